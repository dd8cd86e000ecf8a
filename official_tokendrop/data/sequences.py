"""Turning tokenized documents into fixed-length BERT input sequences.

Pure NumPy/Python over sentences (never over single tokens).
"""

import numpy as np


def _pieces(sentence, limit):
    """Splits a sentence longer than `limit` tokens into `limit`-sized runs."""
    return [sentence[i : i + limit] for i in range(0, len(sentence), limit)]


def pack_sentences(documents, seq_length, cls_id, sep_id, cross_documents=True):
    """Greedy packing: `[CLS] s1 s2 ... [SEP]` with whole sentences.

    Sentences are added while they fit in `seq_length - 2` tokens; a sentence
    longer than that is cut into pieces. With `cross_documents`, a sequence
    continues into the next document after a [SEP], so almost no position is
    padding (the reference's packed setting); otherwise each document starts
    a new sequence.

    Returns a list of int32 arrays of length <= seq_length (segment 0).
    """
    limit = seq_length - 2
    sequences, current, used = [], [], 0

    def flush():
        nonlocal current, used
        if current:
            sequences.append(np.concatenate([[cls_id], *current, [sep_id]]))
        current, used = [], 0

    for document in documents:
        for sentence in document:
            for piece in _pieces(sentence, limit):
                if used + len(piece) > limit:
                    flush()
                current.append(piece)
                used += len(piece)
        if not cross_documents:
            flush()
        elif current and used + 2 <= limit:
            current.append(np.array([sep_id]))
            used += 1
        else:
            flush()
    flush()
    return [s.astype(np.int32) for s in sequences]


def sentence_pairs(documents, seq_length, cls_id, sep_id, rng):
    """BERT next-sentence pairs `[CLS] A [SEP] B [SEP]`, as Model Garden.

    Segment A is a run of sentences; B follows it in the same document half
    the time (label 0) or is taken from a random other document (label 1).

    Returns `(sequences, segment_ids, labels)`.
    """
    limit = seq_length - 3
    sequences, segments, labels = [], [], []
    for index, document in enumerate(documents):
        chunk, length, i = [], 0, 0
        while i < len(document):
            chunk.append(document[i])
            length += len(document[i])
            if i == len(document) - 1 or length >= limit:
                split = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
                a = np.concatenate(chunk[:split])
                random_next = len(chunk) == 1 or rng.random() < 0.5
                if random_next and len(documents) > 1:
                    other = int(rng.integers(len(documents) - 1))
                    other += other >= index
                    source = documents[other]
                    start = int(rng.integers(len(source)))
                    b = np.concatenate(source[start:])[: max(1, limit - len(a))]
                    i -= len(chunk) - split  # unused sentences go back
                else:
                    random_next = False
                    b = (
                        np.concatenate(chunk[split:])
                        if split < len(chunk)
                        else np.zeros([0], np.int32)
                    )
                a, b = _truncate_pair(a, b, limit, rng)
                if len(a) and len(b):
                    sequences.append(
                        np.concatenate([[cls_id], a, [sep_id], b, [sep_id]]).astype(np.int32)
                    )
                    segments.append(
                        np.r_[np.zeros(len(a) + 2, np.int32), np.ones(len(b) + 1, np.int32)]
                    )
                    labels.append(int(random_next))
                chunk, length = [], 0
            i += 1
    return sequences, segments, labels


def _truncate_pair(a, b, limit, rng):
    """Trims the longer side, from a random end, until both fit in `limit`."""
    while len(a) + len(b) > limit:
        if len(a) > len(b):
            a = a[1:] if rng.random() < 0.5 else a[:-1]
        else:
            b = b[1:] if rng.random() < 0.5 else b[:-1]
    return a, b


def pad(sequences, seq_length, segments=None):
    """Stacks sequences into `(token_ids, input_mask, segment_ids)` [N, S]."""
    lengths = np.array([len(s) for s in sequences])
    if lengths.size and lengths.max() > seq_length:
        raise ValueError(f"A sequence of {lengths.max()} tokens exceeds {seq_length}.")
    mask = (np.arange(seq_length)[None, :] < lengths[:, None]).astype(np.int32)
    token_ids = np.zeros(mask.shape, np.int32)
    token_ids[mask.astype(bool)] = np.concatenate(sequences) if sequences else []
    segment_ids = np.zeros(mask.shape, np.int32)
    if segments is not None:
        segment_ids[mask.astype(bool)] = np.concatenate(segments)
    return token_ids, mask, segment_ids

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

    Returns `(sequences, first_segment_lengths, labels)`; the first segment
    length counts [CLS] A [SEP].
    """
    limit = seq_length - 3
    sequences, first_lengths, labels = [], [], []
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
                    b = _take_tokens(source, start, max(1, limit - len(a)))
                    i -= len(chunk) - split  # unused sentences go back
                else:
                    random_next = False
                    b = np.concatenate(chunk[split:]) if split < len(chunk) else a[:0]
                a, b = _truncate_pair(a, b, limit, rng)
                if len(a) and len(b):
                    sequences.append(np.concatenate([[cls_id], a, [sep_id], b, [sep_id]]))
                    first_lengths.append(len(a) + 2)
                    labels.append(int(random_next))
                chunk, length = [], 0
            i += 1
    return sequences, first_lengths, labels


def _take_tokens(document, start, count):
    """The first `count` tokens of `document` from sentence `start` on."""
    taken, total, i = [], 0, start
    while i < len(document) and total < count:
        taken.append(document[i])
        total += len(document[i])
        i += 1
    return np.concatenate(taken)[:count]


def _truncate_pair(a, b, limit, rng):
    """Model Garden's truncation, computed in closed form.

    It removes one token at a time from the longer side (from `b` on a tie),
    from the front or the back with equal odds, until both fit in `limit`.
    """
    excess = len(a) + len(b) - limit
    if excess <= 0:
        return a, b
    gap = abs(len(a) - len(b))
    if gap >= excess:
        cut_a, cut_b = (excess, 0) if len(a) > len(b) else (0, excess)
    else:
        rest = excess - gap
        cut_a = rest // 2 + (gap if len(a) > len(b) else 0)
        cut_b = excess - cut_a
    front_a, front_b = rng.binomial(cut_a, 0.5), rng.binomial(cut_b, 0.5)
    return a[front_a : len(a) - (cut_a - front_a)], b[front_b : len(b) - (cut_b - front_b)]


def pad(sequences, seq_length, first_segment_lengths=None):
    """Stacks sequences into `(token_ids, input_mask, segment_ids)` [N, S].

    Positions from `first_segment_lengths[i]` on are segment 1.
    """
    lengths = np.array([len(s) for s in sequences], np.int64)
    if lengths.size and lengths.max() > seq_length:
        raise ValueError(f"A sequence of {lengths.max()} tokens exceeds {seq_length}.")
    positions = np.arange(seq_length)[None, :]
    real = positions < lengths[:, None]
    token_ids = np.zeros(real.shape, np.int32)
    token_ids[real] = np.concatenate(sequences) if sequences else []
    segment_ids = np.zeros(real.shape, np.int32)
    if first_segment_lengths is not None:
        first = np.asarray(first_segment_lengths)[:, None]
        segment_ids = (real & (positions >= first)).astype(np.int32)
    return token_ids, real.astype(np.int32), segment_ids

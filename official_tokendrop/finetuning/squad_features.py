"""SQuAD windows: each question beside a window of its context, as BERT
builds them, through Model Garden's `squad_lib.convert_examples_to_features`.

    pieces = WordPieces(pretrained.tokenizer)
    windows = squad_windows(squad, pieces, sequence_length=384, doc_stride=128,
                            max_query_length=64)
    model.fit(windows.inputs(), windows.labels())

A window is `[CLS] question [SEP] context piece [SEP]`, padded; a context
longer than the room left is cut into windows `doc_stride` word pieces apart.
Each window remembers which context word each of its pieces came from
(`token_to_orig_map`) and whether it is the piece's window with the most
context on both sides (`token_is_max_context`), which the n-best search
(`squad_predictions`) uses to map spans back to the context's text. A
training window's labels are its answer's first and last piece, or [CLS]
(position 0) where the window does not hold the answer or the question has
none (v2.0), as BERT trains.
"""

import contextlib
import dataclasses

import numpy as np
from absl import logging
from official.nlp.data import squad_lib

from official_tokendrop.errors import DataError

# [CLS] question [SEP] context [SEP]
SPECIAL_PIECES = 3


class WordPieces:
    """Model Garden's `FullTokenizer` interface (`tokenize`,
    `convert_tokens_to_ids`) over a keras-hub `BertTokenizer`.

    Fine-tuning then splits text exactly as the pretrained model's own
    tokenizer does: its vocabulary (which may come from a tokenizer.json
    with no vocab.txt) and its normalisation (lower-casing by Unicode case
    folding, accents kept or stripped as the source says). Model Garden's
    `FullTokenizer` needs a vocab.txt and strips accents whenever it
    lower-cases, so it would split accented words differently from
    pretraining. `squad_lib` tokenizes each context word once per question;
    the pieces of each distinct text are kept, so a context is split once.

    Args:
        tokenizer: `keras_hub.models.BertTokenizer`.

    Example:
    ```python
    pieces = WordPieces(keras_hub.models.BertTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "fox", "##es"],
        lowercase=True))
    pieces.tokenize("Foxes")                     # ["fox", "##es"]
    pieces.convert_tokens_to_ids(["fox", "##es"])  # [5, 6]
    ```
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._vocabulary = tokenizer.get_vocabulary()
        self._ids = {token: index for index, token in enumerate(self._vocabulary)}
        self._pieces = {}

    @property
    def lowercase(self):
        """Whether the tokenizer lower-cases (`squad_lib`'s `do_lower_case`)."""
        return self.tokenizer.lowercase

    def tokenize(self, text):
        if text not in self._pieces:
            ids = np.asarray(self.tokenizer.tokenize(text)).reshape(-1)
            self._pieces[text] = tuple(self._vocabulary[i] for i in ids)
        return list(self._pieces[text])

    def convert_tokens_to_ids(self, tokens):
        return [self._ids[token] for token in tokens]


@dataclasses.dataclass(frozen=True)
class Windows:
    """The windows of a SQuAD file.

    Args:
        features: list of `squad_lib.InputFeatures`, in the order of the
            file's questions and, within a question, of its windows.
    """

    features: list

    def __len__(self):
        return len(self.features)

    def inputs(self):
        """The windows as keras-hub `BertBackbone` inputs (int32 arrays
        [windows, sequence_length])."""
        return {
            "token_ids": np.array([f.input_ids for f in self.features], np.int32),
            "segment_ids": np.array([f.segment_ids for f in self.features], np.int32),
            "padding_mask": np.array([f.input_mask for f in self.features], np.int32),
        }

    def labels(self):
        """Each training window's first and last answer piece ([windows, 2];
        0, [CLS], where it holds no answer)."""
        return np.array([[f.start_position, f.end_position] for f in self.features], np.int32)


def squad_windows(squad, pieces, *, sequence_length, doc_stride, max_query_length):
    """The windows of `squad` (a `squad_files.SquadFile`), split by `pieces`
    (a `WordPieces`); a training file's windows carry labels."""
    check_questions_fit(squad, pieces, sequence_length, max_query_length)
    features = []

    def keep(feature, is_padding=False):
        # Prediction adds copies to fill a last batch; Keras batches itself.
        if not is_padding:
            features.append(feature)

    with _absl_warnings_only():
        squad_lib.convert_examples_to_features(
            squad.examples, pieces, sequence_length, doc_stride, max_query_length, squad.training, keep,
            batch_size=1,
        )
    return Windows(features)


@contextlib.contextmanager
def _absl_warnings_only():
    """`squad_lib` logs its first 20 windows in full (every token, id and
    mask) at INFO, which a program under absl prints; its warnings stay."""
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)


def check_questions_fit(squad, pieces, sequence_length, max_query_length):
    """Every question, cut to `max_query_length` pieces, leaves room for at
    least one context piece in a window."""
    room = sequence_length - SPECIAL_PIECES
    for example in squad.examples:
        length = len(pieces.tokenize(example.question_text))
        kept = min(length, max_query_length)
        if kept >= room:
            cut = f", cut to max_query_length={max_query_length}" if kept < length else ""
            raise DataError(
                f"{squad.path}: question {example.qas_id!r} has {length} word pieces{cut}, so with "
                f"sequence_length={sequence_length} no context fits beside it ([CLS] and two [SEP] take "
                f"{SPECIAL_PIECES}); lower max_query_length below {room} or raise sequence_length."
            )

"""What every format's reader returns (`Source`), and the architecture
check between a source and our encoder."""

import dataclasses

from official_tokendrop.core.experiment_configs import encoder_key
from official_tokendrop.errors import ConfigurationError

KERAS_HUB, TRANSFORMERS, GOOGLE, OURS = (
    "keras-hub preset", "transformers BERT", "Google BERT checkpoint", "token-drop checkpoint"
)

# The architecture as our encoder's arguments, in the order mismatches are
# named: the shapes, and the blocks' GELU form (`hidden_activation`).
ARCHITECTURE = ("vocab_size", "hidden_size", "num_layers", "num_attention_heads", "inner_dim",
                "max_sequence_length", "type_vocab_size", "hidden_activation")


@dataclasses.dataclass
class Source:
    """A recognised source, read far enough to check it before loading.

    Attributes:
        path: str. The source as recognised (a directory or a checkpoint
            prefix).
        format: str. One of the format names above.
        architecture: dict. Our encoder's argument names (`ARCHITECTURE`)
            -> the source's values; a value None is not known.
        vocabulary: str or None. The vocabulary the source ships, as
            `data.vocabulary.load_vocabulary` takes it (its tokens and
            normalisation).
        load: callable. `() -> (BertBackbone, masked-LM head arrays or
            None, next-sentence head arrays or None)`.
        has_pooler: bool. Set by `load`: False when the source has no
            pooler.
        notes: list of str. What the report should say.
    """

    path: str
    format: str
    architecture: dict
    vocabulary: str = None
    load: object = None
    has_pooler: bool = True
    notes: list = dataclasses.field(default_factory=list)


def architecture_of(encoder):
    """The architecture values (encoder argument names) of a built encoder."""
    return {k: getattr(encoder, k) for k in ARCHITECTURE}


def check_fits(architecture, ours, source):
    """Raises one `ConfigurationError` naming every architecture value of
    `source` that differs from `ours` (encoder arguments), by our
    experiment key; values the source does not know (None) are not
    compared."""

    differ = [f"{encoder_key(k)}={ours[k]} but the source has {architecture[k]}"
              for k in ARCHITECTURE if architecture.get(k) is not None and architecture[k] != ours[k]]
    if differ:
        raise ConfigurationError(f"init_checkpoint {source} does not fit the model: {'; '.join(differ)}.")

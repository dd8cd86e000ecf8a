"""The entry points: check a source against the model (`check_source`,
before anything is written), then copy it in (`initialize_from`), and the
report a user sees."""

import dataclasses

from official_tokendrop.data.vocabulary import SPECIAL_TOKENS, load_vocabulary
from official_tokendrop.errors import ConfigurationError
from official_tokendrop.interop.init_checkpoint.formats import read_source
from official_tokendrop.interop.init_checkpoint.source import architecture_of, check_fits
from official_tokendrop.interop.init_checkpoint.weights import apply, check_plan, encoder_plan, head_plan


@dataclasses.dataclass(frozen=True)
class InitReport:
    """What `initialize_from` did; `line()` is what a user sees."""

    source: str
    format: str
    initialized: int  # variables of the pretrainer that now hold the source's values
    total: int  # variables of the pretrainer
    fresh: tuple  # parts left as built: "token importance table", "masked-LM head", ...
    notes: tuple = ()

    def line(self):
        text = (f"init_checkpoint {self.source} ({self.format}): initialized {self.initialized} of "
                f"{self.total} variables; fresh: {', '.join(self.fresh)}")
        return text + "".join(f"; {note}" for note in self.notes)

    __str__ = line


def check_vocabulary(vocab_file, source_vocabulary, source):
    """Refuses `vocab_file` (task.vocab_file) when its size or special-token
    ids differ from the source's vocabulary; returns notes on what else
    differs (other tokens, normalisation)."""

    ours, theirs = load_vocabulary(vocab_file), load_vocabulary(source_vocabulary)
    if len(ours) != len(theirs):
        raise ConfigurationError(
            f"task.vocab_file {vocab_file} has {len(ours)} tokens but init_checkpoint {source}'s vocabulary "
            f"{source_vocabulary} has {len(theirs)}; train with the source's vocabulary.")
    ids = {t: (ours.index.get(t), theirs.index.get(t)) for t in SPECIAL_TOKENS}
    differ = [f"{t} is {a} there and {b} in the source" for t, (a, b) in ids.items() if a != b]
    if differ:
        raise ConfigurationError(
            f"task.vocab_file {vocab_file} and init_checkpoint {source}'s vocabulary {source_vocabulary} "
            f"give special tokens other ids: {'; '.join(differ)}.")
    notes = []
    other = sum(a != b for a, b in zip(ours.tokens, theirs.tokens))
    if other:
        notes.append(f"{other} tokens of task.vocab_file differ from the source's vocabulary")
    if ours.normalisation != theirs.normalisation:
        notes.append(f"task.vocab_file normalises text as {ours.normalisation}, the source's vocabulary as "
                     f"{theirs.normalisation}")
    return notes


def check_source(source, architecture, vocab_file=None):
    """Recognises `source` and checks it against our encoder's
    `architecture` (its argument names) and `vocab_file`, reading no
    weights; returns (the `Source`, notes for the report). The trainer
    calls this before it writes anything."""
    found = read_source(source)
    check_fits(found.architecture, architecture, found.path)
    notes = list(found.notes)
    if vocab_file:
        if found.vocabulary:
            notes += check_vocabulary(vocab_file, found.vocabulary, found.path)
        else:
            notes.append("vocabulary not checked (the source ships none)")
    return found, notes


def _fresh_parts(pretrainer, found, head, nsp):
    """What the source leaves as built, as the report names it."""
    encoder, fresh = pretrainer.encoder, []
    if head is None:
        fresh.append("masked-LM head (the source has none)")
    if pretrainer.next_sentence and nsp is None:
        fresh.append("next-sentence head (the source has none)")
    if not found.has_pooler:
        fresh.append("pooler (the source has none)")
    if encoder.token_importance is not None:
        fresh.append("token importance table")
    if encoder.token_frequency is not None:
        fresh.append("token frequency table")
    return fresh + ["optimizer and step"]


def initialize_from(pretrainer, source, vocab_file=None):
    """Initializes `pretrainer`'s (a built `BertPretrainer`) encoder, and
    its heads where the source has them, from `source` (see the package
    docstring); returns an `InitReport`.

    Everything is checked before anything changes; a refusal is one
    `ConfigurationError` (the model or task.vocab_file does not fit),
    `DataError` (the source is not a BERT or is inconsistent) or
    `MissingFileError`. The optimizer, the step and the token importance
    (or frequency) table are never touched.
    """
    encoder = pretrainer.encoder
    found, notes = check_source(source, architecture_of(encoder), vocab_file)
    backbone, head, nsp = found.load()
    plan = encoder_plan(backbone, encoder, include_pooler=found.has_pooler)
    if head is not None:
        plan += head_plan(pretrainer.masked_lm_head, head)
    if pretrainer.next_sentence and nsp is not None:
        dense = pretrainer.next_sentence_head
        plan += [(dense.kernel, nsp["kernel"]), (dense.bias, nsp["bias"])]
    check_plan(plan, f"init_checkpoint {found.path}")
    apply(plan)
    initialized = len({id(v) for v, _ in plan})
    return InitReport(found.path, found.format, initialized, len(pretrainer.weights),
                      tuple(_fresh_parts(pretrainer, found, head, nsp)), tuple(notes))

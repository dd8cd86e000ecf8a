"""The study's arms, one row per arm, and its scales.

Every fact about an arm (its model, its corpus, what it is compared with,
how it is timed and sized, whether it is seeded, warmed or fine-tuned) is
a field of its row in `ARMS`; the other modules ask the row.
"""

import dataclasses
from typing import Callable, Optional

CORPORA = ("corpus", "general", "domain", "released")


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm of the study.

    Args:
        name: str, the arm's name in `--runs`, results.json and the report.
        about: str, what the arm is, for `--help`.
        default: bool, run when `--runs` is not given.
        pretrains: bool, trains a model; False: fine-tuned only, its
            weights random (the architecture and vocabulary of its corpus's
            dense arms) or, if `shipped`, the released model's.
        dropping: bool, token dropping (keeps half the tokens); else dense.
        variant: callable, scale -> the encoder keys it adds to token
            dropping's (a variant beyond the paper), or None.
        smaller: bool, the dense model whose step FLOPs are nearest token
            dropping's (fewer layers).
        corpus: str, what it trains and is evaluated on: "corpus" (every
            corpus file), "general" (all but `--domain_file`, a vocabulary
            of its own) or "domain" (that file under general's vocabulary;
            such an arm continues general's model through
            `task.init_checkpoint`, for the scale's `continue_steps`) or
            "released" (that file under the vocabulary of the released model
            `--init_checkpoint` names, which such an arm continues the same
            way).
        reference: str, the arm whose final held-out loss it is measured
            against (itself for the references), or None.
        timed_as: str, the arm whose model (architecture and vocabulary) it
            shares and whose seconds per step it takes, or None (its own).
        sized_by: str, the arm whose run's step-seconds its run takes (its
            steps follow from the benchmark), or None (the scale's steps).
        own_schedule: bool, its learning-rate warm-up is 10% of its own
            steps; else 10% of the steps of its kind of run, so the runs
            of a kind differ only after it.
        seeded: bool, run with every `--pretrain_seeds` seed (a
            continuation: continuation seeds from the one general model).
        finetuned: bool, fine-tuned on the tasks.
        warmed: bool, its importance table is warmed before step 0 by the
            scale's `table_warmup_steps` batches (`task.token_table_warmup_steps`).
        shipped: bool, an arm that does not pretrain: the released model
            as it ships (`--init_checkpoint`), not random weights.

    Example:
    >>> ARMS["small_dense"].sized_by
    'token_drop'
    """

    name: str
    about: str
    default: bool = False
    pretrains: bool = True
    dropping: bool = False
    variant: Optional[Callable] = None
    smaller: bool = False
    corpus: str = "corpus"
    reference: Optional[str] = "baseline"
    timed_as: Optional[str] = None
    sized_by: Optional[str] = None
    own_schedule: bool = False
    seeded: bool = False
    finetuned: bool = False
    warmed: bool = False
    shipped: bool = False

    @property
    def on_domain(self):
        """Whether its corpus is `--domain_file` (under general's or the
        released model's vocabulary)."""
        return self.corpus in ("domain", "released")

    @property
    def continues(self):
        """Whether it trains a model that starts from another's: general's
        (the domain's arms) or the released model (the released arms)."""
        return self.pretrains and self.on_domain

    @property
    def timed(self):
        """The arm whose measured seconds per step it takes."""
        return self.timed_as or self.name

    @property
    def compared(self):
        """Whether it is measured against another arm's final loss."""
        return self.reference not in (None, self.name)

    def encoder_keys(self, scale):
        """The encoder keys its variant adds ({} for every other arm)."""
        return self.variant(scale) if self.variant else {}

    def default_steps(self, scale):
        """Its steps unless it is sized by another arm's cost."""
        return scale.continue_steps if self.continues else scale.steps

    def table_warmup_steps(self, scale):
        return scale.table_warmup_steps if self.warmed else 0


def _schedule(scale):
    return {"token_keep_k": scale.seq // 4,
            "token_keep_k_schedule": [{"start_step": max(1, scale.steps // 2), "keep_k": scale.seq // 2}]}


_ROWS = (
    Arm("baseline", "the dense model, N steps", default=True, seeded=True, finetuned=True),
    Arm("token_drop", "token dropping (keep half), N steps", default=True, dropping=True, seeded=True,
        finetuned=True),
    Arm("baseline_equal_cost", "the dense model for the steps that cost what token_drop's N steps cost "
        "(measured step-seconds)", default=True, timed_as="baseline", sized_by="token_drop", finetuned=True),
    Arm("small_dense", "a shallower dense model at token_drop's cost", default=True, smaller=True,
        sized_by="token_drop", finetuned=True),
    Arm("no_pretraining", "the baseline architecture, randomly initialised", default=True, pretrains=False,
        reference=None, finetuned=True),
    Arm("random", "token_drop with a fresh random choice of kept tokens per step", dropping=True,
        variant=lambda scale: {"token_selection": "random"}, finetuned=True),
    Arm("frequency", "token_drop keeping the rarest ids (the paper's frequency ablation)", dropping=True,
        variant=lambda scale: {"token_selection": "frequency"}, finetuned=True),
    Arm("schedule", "token_drop keeping a quarter of the tokens for half the steps, then half", dropping=True,
        variant=_schedule, finetuned=True),
    Arm("hybrid", "token_drop with every 4th step on the full encoder (ScTD-style)", dropping=True,
        variant=lambda scale: {"token_full_step_every": 4}, finetuned=True),
    Arm("token_drop_baseline_cost", "token dropping for the steps whose step-seconds equal the baseline's N "
        "steps (its own learning-rate schedule to that step)", dropping=True, timed_as="token_drop",
        sized_by="baseline", own_schedule=True, seeded=True),
    Arm("general", "the dense model, N steps on the corpus without --domain_file (its vocabulary learned "
        "without that file too, as a released model's would be)", corpus="general", reference=None,
        timed_as="continued_dense"),
    Arm("continued_dense", "general continued on --domain_file (every 10th line held out) for the scale's "
        "continue_steps, dense", corpus="domain", reference="continued_dense", seeded=True),
    Arm("continued_token_drop", "the same continuation with token dropping (the importance table starts "
        "fresh)", dropping=True, corpus="domain", reference="continued_dense", seeded=True),
    Arm("continued_dense_equal_cost", "continued_dense for the steps whose step-seconds equal "
        "continued_token_drop's", corpus="domain", reference="continued_dense", timed_as="continued_dense",
        sized_by="continued_token_drop", seeded=True),
    Arm("continued_token_drop_warm", "continued_token_drop with the table warmed first by the MLM losses of "
        "the scale's table_warmup_steps domain batches (forward passes; their step-seconds and FLOPs "
        "counted)", dropping=True, corpus="domain", reference="continued_dense",
        timed_as="continued_token_drop", warmed=True),
    Arm("released", "the released model (--init_checkpoint) as it ships, fine-tuned only", pretrains=False,
        corpus="released", reference=None, finetuned=True, shipped=True),
    Arm("released_random", "random weights of the released model's shape and vocabulary, fine-tuned only",
        pretrains=False, corpus="released", reference=None, finetuned=True),
    Arm("released_dense", "the released model continued on --domain_file (every 10th line held out; its "
        "vocabulary, so none is learned; a fresh MLM head) for the scale's continue_steps, dense",
        corpus="released", reference="released_dense", seeded=True, finetuned=True),
    Arm("released_token_drop", "the same continuation with token dropping (keep half; the importance table "
        "starts fresh)", dropping=True, corpus="released", reference="released_dense", seeded=True,
        finetuned=True),
    Arm("released_dense_equal_cost", "released_dense for the steps whose step-seconds equal "
        "released_token_drop's", corpus="released", reference="released_dense", timed_as="released_dense",
        sized_by="released_token_drop", seeded=True, finetuned=True),
)
ARMS = {arm.name: arm for arm in _ROWS}  # in the order they run
DEFAULT_RUNS = tuple(name for name, arm in ARMS.items() if arm.default)


def describe():
    """The arms, one per line, for `--help`."""
    return "\n".join(f"  {name:<27}{arm.about}" for name, arm in ARMS.items())


@dataclasses.dataclass(frozen=True)
class Scale:
    """Model, data and schedule of one study size."""

    hidden: int
    layers: int
    heads: int
    inner: int
    seq: int
    positions: int  # position embeddings (a released model's own number)
    hidden_activation: str  # the encoder's GELU form: "gelu" (tanh) or "gelu_exact"
    predictions: int
    batch: int
    steps: int
    learning_rate: float
    dropout: float
    vocab_size: int
    vocab_lines: int
    dupe_factor: int  # copies of the training text, each masked anew
    eval_batches: int
    finetune_examples: int
    finetune_eval_examples: int
    finetune_epochs: int
    finetune_learning_rates: tuple  # the grid; each arm's rate is picked on dev
    bench_rounds: int
    bench_steps: int
    continue_steps: int  # steps of each continuation (of general or of the released model)
    table_warmup_steps: int  # batches of the warmed arms' table warm-up
    xla: bool = True  # the trainer's XLA step (runtime.enable_xla)


SCALES = {
    # 6 x 128: 3 of 6 layers see half the tokens, a 22% FLOP saving; see
    # BUILD_NOTES.md for why not 12 layers on this budget.
    "study": Scale(hidden=128, layers=6, heads=2, inner=512, seq=128, positions=128, hidden_activation="gelu",
                   predictions=20, batch=32,
                   steps=3000, learning_rate=1e-3, dropout=0.0, vocab_size=8000, vocab_lines=60000, dupe_factor=2,
                   eval_batches=16, finetune_examples=5000, finetune_eval_examples=2000,
                   finetune_epochs=3, finetune_learning_rates=(1e-3,), bench_rounds=5, bench_steps=5,
                   # A continuation of a third of the steps; its table warm-up a
                   # tenth of those, forward only: ~3% of its step-seconds.
                   continue_steps=1000, table_warmup_steps=100),
    # all-MiniLM-L6-v2's shape (6 x 384, 12 heads, 512 positions, exact
    # GELU), continued at its own dropout. Learning rate 3e-4: the MLM head
    # starts fresh, and in 80-step probes of released_dense it reached a
    # domain held-out loss of 4.60 against 5.53 at 1e-4. Sized to about 2
    # hours per part on the 2-core CPU (measured: a dense step 2.45 s, a
    # token-dropping step 1.88 s, a 2-epoch fine-tune of 1,000 examples at
    # seq 64 114 s with its start-up; see BUILD_NOTES.md): 400 steps per
    # continuation, one grid of two rates for every model, 1,000 training
    # and 500 dev/test examples of each task.
    "minilm": Scale(hidden=384, layers=6, heads=12, inner=1536, seq=128, positions=512,
                    hidden_activation="gelu_exact", predictions=20, batch=32, steps=400, learning_rate=3e-4,
                    dropout=0.1, vocab_size=30522, vocab_lines=60000, dupe_factor=2, eval_batches=8,
                    finetune_examples=1000, finetune_eval_examples=500, finetune_epochs=2,
                    finetune_learning_rates=(1e-4, 3e-4), bench_rounds=5, bench_steps=2, continue_steps=400,
                    table_warmup_steps=40),
    # The CI smoke run: seconds per stage.
    "tiny": Scale(hidden=32, layers=4, heads=2, inner=64, seq=32, positions=32, hidden_activation="gelu",
                  predictions=5, batch=8,
                  steps=20, learning_rate=1e-3, dropout=0.0, vocab_size=400, vocab_lines=2000, dupe_factor=1,
                  eval_batches=2, finetune_examples=64, finetune_eval_examples=32,
                  finetune_epochs=1, finetune_learning_rates=(1e-3,), bench_rounds=2, bench_steps=1,
                  continue_steps=6, table_warmup_steps=2, xla=False),  # compiling costs more than 20 tiny steps
}

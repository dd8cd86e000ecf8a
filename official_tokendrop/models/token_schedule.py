"""A run's training schedule of token dropping.

Which layers drop tokens, how many tokens they keep at each training step
(the keep-k stages of `token_keep_k_schedule`), and which steps run every
layer on every token (`token_full_step_every`). A step runs one of the
schedule's training modes `(keep_k, full)`; every per-step cost of a run
(kept tokens, FLOPs, step-seconds) is a sum over those modes, which
`TokenSchedule.run_cost` computes once for all of them.
"""

import dataclasses
from typing import NamedTuple

import numpy as np
from keras import ops

from official_tokendrop.errors import ConfigurationError
from official_tokendrop.layers.token_selection import check_sequence_fits


def default_drop_layers(num_layers):
    """The paper's schedule: (first, last) dropping layer of `num_layers`,
    from the middle to the one before the last."""
    return num_layers // 2 - 1, num_layers - 2


def resolve_drop_layers(num_layers, first_drop_layer=None, last_drop_layer=None):
    """(first, last) dropping layer: the given ones, `default_drop_layers`
    where None."""
    first, last = default_drop_layers(num_layers)
    return (first if first_drop_layer is None else first_drop_layer,
            last if last_drop_layer is None else last_drop_layer)


def _checked_schedule(schedule):
    """`token_keep_k_schedule` as a tuple of (start_step, keep_k) int pairs,
    start steps increasing from 1, keep_k >= 1."""
    stages, previous = [], 0
    for stage in schedule or ():
        pair = tuple(stage) if isinstance(stage, (list, tuple)) else ()
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair) \
                or pair[1] < 1:
            raise ConfigurationError(
                "`token_keep_k_schedule` stages are [start_step, keep_k] integer pairs, keep_k >= 1; "
                f"got {stage!r}."
            )
        if pair[0] <= previous:
            raise ConfigurationError(
                "`token_keep_k_schedule` start steps must increase from 1 (token_keep_k holds "
                f"before the first); got {[list(s) for s in schedule]}."
            )
        stages.append(pair)
        previous = pair[0]
    return tuple(stages)


def stage_keep_ks(token_keep_k, token_keep_k_schedule=()):
    """The keep_k of every stage of a run: `token_keep_k`, then each
    schedule stage's (the schedule checked)."""
    return (token_keep_k,) + tuple(k for _, k in _checked_schedule(token_keep_k_schedule))


def _check_full_steps(full_step_every, consistency_weight):
    if isinstance(full_step_every, bool) or not isinstance(full_step_every, int) or full_step_every < 0:
        raise ConfigurationError(
            "`token_full_step_every` must be an integer >= 0 (0: no full steps); "
            f"got {full_step_every!r}."
        )
    if consistency_weight < 0 or (consistency_weight and not full_step_every):
        raise ConfigurationError(
            f"`token_consistency_weight` ({consistency_weight}) must be >= 0, and "
            "needs full steps (`token_full_step_every` > 0) to compare against."
        )


def _check_baseline(variants):
    """Each of `variants` ({argument: given}) changes how tokens are
    dropped; without dropping it would be silently ignored."""
    given = [key for key, on in variants.items() if on]
    if given:
        raise ConfigurationError(
            f"{', '.join(f'`{key}`' for key in given)} need token dropping, but "
            "`token_keep_k` is None (the baseline)."
        )


def _check_drop_layers(num_layers, first_drop_layer, last_drop_layer):
    if not 0 <= first_drop_layer <= last_drop_layer <= num_layers - 2:
        raise ConfigurationError(
            "Dropping layers must satisfy 0 <= first_drop_layer <= "
            "last_drop_layer <= num_layers - 2 (the last layer sees "
            f"all tokens); got first_drop_layer={first_drop_layer}, "
            f"last_drop_layer={last_drop_layer}, "
            f"num_layers={num_layers}."
        )


class Mode(NamedTuple):
    """A training mode: the stage's `keep_k` (None without dropping), and
    whether the step runs every layer on every token (`full`)."""

    keep_k: object
    full: bool


@dataclasses.dataclass(frozen=True)
class TokenSchedule:
    """Token dropping over a run's training steps.

    Build it with `TokenSchedule.checked`, which checks the encoder's
    arguments. Steps are 0-based; step `s` keeps the keep_k of the last
    stage starting at or before `s` (`keep_k` before the first stage), and
    with `full_step_every = n` every n-th step is a full step.

    Fields:
        keep_k: int or None. Tokens kept by loss (or the chosen ranking)
            before the first stage; None: no dropping (the baseline).
        random_keep_k: int. Extra tokens kept at random.
        stages: tuple of (start_step, keep_k) int pairs.
        full_step_every: int. Every n-th step is a full step; 0: none.
        consistency_weight: float. A full step with a positive weight also
            runs its stage's dropping pass (the consistency loss).
        first_drop_layer, last_drop_layer: int or None. 0-based bounds
            (inclusive) of the dropping layers, defaults resolved; without
            dropping, as given (and unused).

    Example:
    >>> schedule = TokenSchedule.checked(num_layers=4, max_sequence_length=16, keep_k=4,
    ...                                  keep_k_schedule=((3, 8),), full_step_every=4)
    >>> schedule.modes
    (Mode(keep_k=4, full=False), Mode(keep_k=4, full=True), Mode(keep_k=8, full=False), Mode(keep_k=8, full=True))
    >>> [schedule.kept_at(s) for s in range(6)]
    [4, 4, 4, None, 8, 8]
    """

    keep_k: object = None
    random_keep_k: int = 0
    stages: tuple = ()
    full_step_every: int = 0
    consistency_weight: float = 0.0
    first_drop_layer: object = None
    last_drop_layer: object = None

    @classmethod
    def checked(cls, num_layers, max_sequence_length, keep_k, random_keep_k=0, first_drop_layer=None,
                last_drop_layer=None, keep_k_schedule=(), full_step_every=0, consistency_weight=0.0,
                selection="loss"):
        """The schedule of an encoder's arguments (`keep_k` is
        `token_keep_k`, and so on), checked; `selection` only to report
        that a non-default ranking needs dropping."""
        _check_full_steps(full_step_every, consistency_weight)
        if keep_k is None:
            _check_baseline({"token_selection": selection != "loss",
                             "token_keep_k_schedule": bool(keep_k_schedule),
                             "token_full_step_every": bool(full_step_every),
                             "token_consistency_weight": bool(consistency_weight)})
            return cls(random_keep_k=random_keep_k, first_drop_layer=first_drop_layer,
                       last_drop_layer=last_drop_layer)
        if num_layers < 3:
            raise ConfigurationError(
                "Token dropping needs at least 3 layers (full, dropping, "
                f"full); got num_layers={num_layers}."
            )
        first, last = resolve_drop_layers(num_layers, first_drop_layer, last_drop_layer)
        _check_drop_layers(num_layers, first, last)
        for k in stage_keep_ks(keep_k, keep_k_schedule):
            check_sequence_fits(k, random_keep_k, max_sequence_length, "max_sequence_length", ConfigurationError)
        return cls(keep_k, random_keep_k, _checked_schedule(keep_k_schedule), full_step_every,
                   float(consistency_weight), first, last)

    @property
    def dropping(self):
        return self.keep_k is not None

    @property
    def drop_layers(self):
        """Indices of the layers whose queries are only the kept tokens
        (the first of them still reads every token); () without dropping."""
        if not self.dropping:
            return ()
        return tuple(range(self.first_drop_layer, self.last_drop_layer + 1))

    @property
    def num_kept(self):
        """Tokens per sequence the dropping layers process at `keep_k`
        (ranked plus random keeps); None without dropping."""
        return self.keep_k + self.random_keep_k if self.dropping else None

    # === Training modes: stages x (dropping, full step) ===
    @property
    def modes(self):
        """The distinct `Mode`s a training step may run, in the order
        `mode_index` numbers them: each stage's keep_k, and with full
        steps each one again with `full=True` (which a consistency loss
        compares with that stage's dropping pass)."""
        if not self.dropping:
            return (Mode(None, True),)
        fulls = (False, True) if self.full_step_every else (False,)
        return tuple(Mode(k, full) for k in stage_keep_ks(self.keep_k, self.stages) for full in fulls)

    @property
    def mode_kept(self):
        """Tokens the dropping layers process in each of `modes`' stage
        (its keep_k plus the random keeps; None without dropping)."""
        return tuple(None if k is None else k + self.random_keep_k for k, _ in self.modes)

    def mode_index(self, step):
        """Index into `modes` of the 0-based training `step` (an int,
        array or tensor; works elementwise)."""
        step = ops.cast(ops.convert_to_tensor(step), "int32")
        stage = ops.zeros_like(step)
        for start, _ in self.stages:
            stage = stage + ops.cast(step >= start, "int32")
        if not self.full_step_every:
            return stage
        full = ops.cast((step + 1) % self.full_step_every == 0, "int32")
        return 2 * stage + full

    def mode_counts(self, first_step, last_step):
        """How many of the training steps `[first_step, last_step)` run each
        of `modes` (a NumPy array, one count per mode)."""
        index = np.asarray(self.mode_index(np.arange(first_step, last_step, dtype=np.int32)))
        return np.bincount(index.reshape([-1]), minlength=len(self.modes))

    def kept_at(self, step):
        """Tokens the dropping layers process at training `step`; None for a
        full step or a schedule without dropping."""
        index = int(self.mode_index(step))
        return None if self.modes[index].full else self.mode_kept[index]

    def mode_passes(self, index):
        """The forward passes a step of mode `index` runs, as the tokens its
        dropping layers process (None: every token): the step's own pass
        first, then, for a full step with a consistency loss, its stage's
        dropping pass."""
        (_, full), kept = self.modes[index], self.mode_kept[index]
        if not full:
            return (kept,)
        return (None, kept) if kept is not None and self.consistency_weight else (None,)

    # === Costs of a run ===
    def run_cost(self, first_step, last_step, mode_cost):
        """Sum of `mode_cost(index)` over the training steps `[first_step,
        last_step)`, each at its mode's index."""
        counts = self.mode_counts(first_step, last_step)
        return sum(int(n) * mode_cost(index) for index, n in enumerate(counts))

    def kept_fraction(self, seq_length, first_step=None, last_step=None):
        """Share of a `seq_length` sequence the dropping layers process:
        at `keep_k`, or the mean over training steps `[first_step,
        last_step)` of each step's own pass (stages and full steps
        included)."""
        if first_step is None:
            return self.num_kept / seq_length if self.dropping else 1.0

        def kept(index):
            own = self.mode_passes(index)[0]
            return seq_length if own is None else own

        return self.run_cost(first_step, last_step, kept) / ((last_step - first_step) * seq_length)

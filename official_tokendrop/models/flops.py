"""Arithmetic cost of a pretraining step: the FLOP model.

Counts multiply-adds as 2 FLOPs in every matrix product of a training
step: Q/K/V/output projections, attention scores, attention-times-values,
the feed-forward network and the masked-LM head (dense transform and the
vocabulary projection). Embedding gathers, layer norms, softmax and other
element-wise work are left out (they are a few percent). The backward pass
is counted as twice the forward pass, so a step is 3x the forward FLOPs.
"""

import dataclasses

from official_tokendrop.models.token_schedule import resolve_drop_layers


def _block_flops(queries, keys, hidden, inner):
    """Forward FLOPs of one block with `queries` attending over `keys`."""
    projections = 2 * hidden * hidden * (2 * queries + 2 * keys)  # Q, O | K, V
    attention = 2 * 2 * queries * keys * hidden  # scores and weighted sum
    feed_forward = 2 * 2 * queries * hidden * inner
    return projections + attention + feed_forward


@dataclasses.dataclass(frozen=True)
class StepFlops:
    encoder: int  # forward FLOPs of the encoder
    mlm_head: int  # forward FLOPs of the masked-LM head

    @property
    def forward(self):
        return self.encoder + self.mlm_head

    @property
    def training_step(self):
        return 3 * self.forward


def step_flops(
    hidden_size,
    num_layers,
    inner_dim,
    seq_length,
    vocab_size,
    num_predictions,
    batch_size=1,
    keep_k=None,
    first_drop_layer=None,
    last_drop_layer=None,
):
    """FLOPs of one training step; `keep_k=None` is the baseline.

    Dropping layers default to the paper's schedule (`L//2 - 1` to
    `L - 2`); the first of them has `keep_k` queries over all
    `seq_length` keys, the rest `keep_k` over `keep_k`.
    """
    full = _block_flops(seq_length, seq_length, hidden_size, inner_dim)
    if keep_k is None:
        encoder = num_layers * full
    else:
        first, last = resolve_drop_layers(num_layers, first_drop_layer, last_drop_layer)
        kept_only = last - first
        encoder = (
            (num_layers - kept_only - 1) * full
            + _block_flops(keep_k, seq_length, hidden_size, inner_dim)
            + kept_only * _block_flops(keep_k, keep_k, hidden_size, inner_dim)
        )
    head = 2 * num_predictions * hidden_size * (hidden_size + vocab_size)
    return StepFlops(batch_size * encoder, batch_size * head)


def encoder_step_flops(encoder, seq_length, num_predictions, batch_size=1, kept=None):
    """`step_flops` of a `TokenDropBertEncoder` whose dropping layers
    process `kept` tokens (None: every token, no dropping)."""
    return step_flops(
        encoder.hidden_size,
        encoder.num_layers,
        encoder.inner_dim,
        seq_length,
        encoder.vocab_size,
        num_predictions,
        batch_size,
        keep_k=kept,
        first_drop_layer=encoder.first_drop_layer,
        last_drop_layer=encoder.last_drop_layer,
    )


def encoder_run_flops(encoder, seq_length, num_predictions, batch_size, first_step, last_step):
    """Training FLOPs of steps `[first_step, last_step)` of a run: each step
    at its training mode (schedule stage or full step; a full step with a
    consistency loss also runs its stage's dropping pass)."""
    schedule = encoder.schedule

    def mode_flops(index):
        return sum(encoder_step_flops(encoder, seq_length, num_predictions, batch_size, kept).training_step
                   for kept in schedule.mode_passes(index))

    return schedule.run_cost(first_step, last_step, mode_flops)


def table_warmup_flops(encoder, seq_length, num_predictions, batch_size, steps):
    """FLOPs of `steps` batches of the token table's warm-up
    (`task.token_table_warmup_steps`): the full encoder's and the MLM
    head's forward pass each, no backward."""
    return steps * encoder_step_flops(encoder, seq_length, num_predictions, batch_size).forward

"""What a run's training cost in FLOPs (the FLOP model of `models/flops`):
the steps this run took and the model_dir's whole run, the token table's
warm-up included."""

from official_tokendrop.models.flops import encoder_run_flops, table_warmup_flops


def run_flop_totals(encoder, train_data, warmup_steps, first_step, last_step, warmed):
    """FLOPs of steps `[first_step, last_step)` ("train_flops") and of every
    step to `last_step` ("total_flops") of a run of `encoder` on
    `train_data` (its data config: sequence length, predictions, global
    batch). `warmup_steps` is `task.token_table_warmup_steps`: the
    model_dir's total counts its forward passes once; this run's counts
    them only if it `warmed` (a resumed run did not)."""
    shape = (train_data.seq_length, train_data.max_predictions_per_seq, train_data.global_batch_size)

    def flops(first):
        return float(encoder_run_flops(encoder, *shape, first, last_step))

    warmup = float(table_warmup_flops(encoder, *shape, warmup_steps))
    return {"steps_this_run": last_step - first_step,
            "train_flops": flops(first_step) + (warmup if warmed else 0.0),
            "total_flops": flops(0) + warmup}

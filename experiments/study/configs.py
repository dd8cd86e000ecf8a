"""An arm's experiment config: the keys a user would set to train it."""

import math
import os

from official_tokendrop.core import experiment_configs
from official_tokendrop.core.pretrainers import build_pretrainer
from official_tokendrop.interop.init_checkpoint import check_source
from official_tokendrop.models.flops import step_flops

from .arms import ARMS


def closest_dense_layers(scale, vocab_size):
    """Layer count of the dense model whose step FLOPs are nearest token
    dropping's (keep half) at `scale`."""
    def flops(layers, keep):
        return step_flops(scale.hidden, layers, scale.inner, scale.seq, vocab_size, scale.predictions,
                          scale.batch, keep_k=keep).training_step

    target = flops(scale.layers, scale.seq // 2)
    return min(range(1, scale.layers), key=lambda layers: abs(flops(layers, None) - target))


class Configs:
    """The experiment configs of a study's arms.

    Args:
        scale: `arms.Scale`.
        corpora: dict, name -> `corpora.Corpus` (each arm's `corpus`).
        work: str, the work dir (model dirs).
        seed: int, the experiment seed.
        evaluations: int, held-out evaluations per run.
        released: str, the released model the released arms continue
            (`--init_checkpoint`), or None.

    Example:
    >>> configs = Configs(SCALES["tiny"], corpora, "/tmp/work", seed=0, evaluations=2)  # doctest: +SKIP
    >>> experiment, override = configs.override("token_drop", steps=20)  # doctest: +SKIP
    """

    def __init__(self, scale, corpora, work, seed, evaluations, released=None):
        self.scale, self.corpora, self.work, self.seed, self.evaluations = scale, corpora, work, seed, evaluations
        self.released = released
        corpus = corpora.get("corpus")
        # The smaller dense arm's depth: a function of the whole corpus's vocabulary.
        self.dense_layers = closest_dense_layers(scale, corpus.vocab_size) if corpus else None

    def run_name(self, name, seed):
        """Model-dir (and fine-tune) name of `name` pretrained with `seed`."""
        return name if seed == self.seed else f"{name}_seed{seed}"

    def model_dir(self, name, seed):
        return os.path.join(self.work, self.run_name(name, seed))

    def init_checkpoint(self, name):
        """What continuation `name` starts from, as a user names it: the
        released model, or general's model_dir (weights only; the table,
        optimizer and step start fresh)."""
        return self.released if ARMS[name].corpus == "released" else self.model_dir("general", self.seed)

    def check_released(self, runs):
        """The released model fits the released arms' encoder (shapes, GELU
        form, vocabulary): the trainer's own check, before anything runs."""
        name = next(r for r in runs if ARMS[r].corpus == "released")
        task = self.params(name).task
        check_source(self.released, experiment_configs.encoder_arguments(task), task.vocab_file)

    def shape(self, name, steps=None):
        """(experiment, layers, keep_k, steps, learning-rate warm-up steps)
        of arm `name` run for `steps` (default: its `default_steps`)."""
        arm, s = ARMS[name], self.scale
        planned = arm.default_steps(s)
        steps = steps or planned
        warmup = max(1, (steps if arm.own_schedule else planned) // 10)
        if arm.dropping:
            return "token_drop_bert/pretraining", s.layers, s.seq // 2, steps, warmup
        return "bert/pretraining", self.dense_layers if arm.smaller else s.layers, None, steps, warmup

    def override(self, name, steps=None, seed=None):
        """(experiment name, its overrides) of arm `name`."""
        arm, s = ARMS[name], self.scale
        experiment, layers, keep, steps, warmup = self.shape(name, steps)
        corpus = self.corpora[arm.corpus]
        vocabulary = corpus.vocabulary
        interval = max(1, math.ceil(steps / self.evaluations))
        data = {"seq_length": s.seq, "max_predictions_per_seq": s.predictions, "global_batch_size": s.batch}
        task = {
            "seed": self.seed if seed is None else seed,
            "vocab_file": corpus.vocab,
            "model": {"encoder": {"any": {
                "vocab_size": corpus.vocab_size, "hidden_size": s.hidden, "num_layers": layers,
                "num_attention_heads": s.heads, "intermediate_size": s.inner,
                "max_position_embeddings": s.positions, "hidden_activation": s.hidden_activation,
                "dropout_rate": s.dropout, "attention_dropout_rate": s.dropout, "token_keep_k": keep,
                "token_allow_list": list(vocabulary.token_allow_list),
                "token_deny_list": list(vocabulary.token_deny_list), **arm.encoder_keys(s),
            }}},
            "train_data": {"input_path": corpus.data["train"], **data},
            "validation_data": {"input_path": corpus.data["heldout"], **data},
        }
        if arm.continues:
            task["init_checkpoint"] = self.init_checkpoint(name)
        if arm.table_warmup_steps(s):
            task["token_table_warmup_steps"] = arm.table_warmup_steps(s)
        return experiment, {"task": task, "trainer": self.trainer(steps, interval, warmup),
                            "runtime": {"distribution_strategy": "one_device", "enable_xla": s.xla}}

    def trainer(self, steps, interval, warmup):
        """The trainer keys of a run of `steps` evaluated every `interval`."""
        return {
            "train_steps": steps, "checkpoint_interval": interval, "max_to_keep": 2,
            "steps_per_loop": interval, "summary_interval": interval,
            "validation_interval": interval, "validation_steps": self.scale.eval_batches,
            "optimizer_config": {
                "learning_rate": {"polynomial": {"initial_learning_rate": self.scale.learning_rate,
                                                 "decay_steps": steps}},
                "warmup": {"polynomial": {"warmup_steps": warmup}},
            },
        }

    def params(self, name, steps=None, seed=None):
        """Arm `name`'s experiment config."""
        return experiment_configs.experiment(*self.override(name, steps, seed))

    def encoder(self, name):
        """Arm `name`'s encoder (what its steps cost is its to say)."""
        return build_pretrainer(self.params(name).task).encoder

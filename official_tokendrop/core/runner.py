"""The pretraining run on Orbit, as Model Garden's `train_lib`:
`orbit.Controller` schedules the trainable's loops, checkpoints, summaries,
evaluation and the after-loop actions; the runner owns the restore, the
controller, the modes, the export and the run's errors. Cluster roles
(`cluster`), the save on a signal (`preemption`) and the FLOP totals
(`flop_totals`) are their own modules.
"""

import contextlib
import os
import time

import orbit
import tensorflow as tf
from official.core import train_utils

from official_tokendrop.core import actions, checkpoints, cluster
from official_tokendrop.core.actions import log
from official_tokendrop.core.flop_totals import run_flop_totals
from official_tokendrop.core.preemption import PreemptionGuard
from official_tokendrop.core.task import PretrainingTask
from official_tokendrop.core.trainable import PretrainingTrainable
from official_tokendrop.data.file_patterns import expand_input_files
from official_tokendrop.errors import ConfigurationError, DataError, MissingFileError
from official_tokendrop.interop.init_checkpoint import initialize_from
from official_tokendrop.interop.keras_hub import write_preset
from official_tokendrop.utils.progress import Eta, format_duration

MODES = ("train", "eval", "train_and_eval", "continuous_eval")


def corrupt_record_message(input_paths, error):
    """Names the TFRecord file that tf.data's DataLossError does not."""
    for input_path in input_paths:
        for path in expand_input_files(input_path):
            try:
                for _ in tf.data.TFRecordDataset(path):
                    pass
            except tf.errors.DataLossError:
                return f"{path} is corrupt (truncated or damaged TFRecord); reconvert or remove it."
    return f"corrupt TFRecord in {', '.join(input_paths)}: {error.message.splitlines()[0]}"


class _Controller(orbit.Controller):
    """Orbit's controller; the runner restores before building it (the
    newest intact checkpoint, the chief's one on every worker), so its own
    restore from `checkpoint_manager` is not repeated."""

    def restore_checkpoint(self, checkpoint_path=None):
        return None


class Runner:
    """Runs one experiment in `model_dir` under `strategy`, from the
    experiment's `task_config` (`params.task`), `trainer_config`
    (`params.trainer`) and `runtime_config` (`params.runtime`)."""

    def __init__(self, task_config, trainer_config, runtime_config, model_dir, strategy):
        self.config = trainer_config
        self.model_dir, self.strategy = model_dir, strategy
        self.task = PretrainingTask(task_config)
        self.trainable = PretrainingTrainable(
            self.task, trainer_config.optimizer_config, runtime_config, strategy)
        self.restored = None
        self.is_chief = cluster.is_chief(strategy)
        self.write_dir = cluster.write_dir(model_dir, strategy)
        self.manager = checkpoints.IntervalCheckpointManager(
            self.trainable.checkpoint, self.write_dir, trainer_config.max_to_keep,
            self.trainable.optimizer.iterations, trainer_config.checkpoint_interval,
        )
        self.preemption = PreemptionGuard(
            trainer_config.preemption_on_demand_checkpoint, strategy, self.manager,
            self.trainable.stop_requested, lambda: self.step)
        self.eval_results = actions.EvalResultsWriter(self.trainable.optimizer.iterations, self.write_dir)
        self.best_exporter = None
        if trainer_config.best_checkpoint_export_subdir:
            metrics = [m.name for m in self.model.metrics]
            if trainer_config.best_checkpoint_eval_metric not in metrics:
                raise ConfigurationError(
                    f"trainer.best_checkpoint_eval_metric={trainer_config.best_checkpoint_eval_metric!r} "
                    f"is not an evaluation metric of this model; it reports {', '.join(metrics)}.")
            self.best_exporter = train_utils.BestCheckpointExporter(
                os.path.join(self.write_dir, trainer_config.best_checkpoint_export_subdir),
                trainer_config.best_checkpoint_eval_metric, trainer_config.best_checkpoint_metric_comp)

    # === State ===
    @property
    def step(self):
        return self.trainable.step

    @property
    def model(self):
        return self.trainable.model

    @property
    def last_eval(self):
        """The results of this run's last evaluation, or None."""
        return self.eval_results.last

    def restore(self):
        """Restores the newest intact checkpoint; returns its path or None.

        Never restarts a model_dir that holds checkpoints: a lost index
        file or a corrupt newest checkpoint falls back to the newest intact
        one (with a warning), and a checkpoint of another model is refused.
        Without a checkpoint the model starts from `initialize_weights`.
        """
        # Every worker restores the chief's checkpoint, so all resume at
        # one step even if a worker died before finishing its own copy.
        path = checkpoints.restore_newest_intact(
            self.trainable.checkpoint, self.model_dir, self.model, "the configured model"
        )
        source = self.task.config.init_checkpoint
        if path:
            log(f"restored {path} at step {self.step}")
            if source:  # as in Model Garden: a resumed run never starts over from the source
                log(f"resuming from {path}: task.init_checkpoint {source} is not applied again")
        elif source:
            self.initialize_weights(source)
        self.restored = path
        return path

    def initialize_weights(self, source):
        """Before step 0 of a run that restored no checkpoint: the
        encoder's (and the heads') weights from `source`
        (`task.init_checkpoint`; see `interop.init_checkpoint`)."""
        log(initialize_from(self.model, source, self.task.config.vocab_file or None).line())

    def warm_token_table(self):
        """Before step 0 of a run that restored no checkpoint (from scratch
        or from `task.init_checkpoint`): `task.token_table_warmup_steps`
        batches of the table warm-up; a resumed run keeps its checkpoint's
        table. Returns the batches warmed."""
        steps = self.task.config.token_table_warmup_steps
        if not steps or self.restored or self.step:
            return 0
        loss = self.trainable.warm_token_table(steps)
        log(f"token table warmed on {steps} training batches (full encoder, forward only; "
            f"mean loss {loss:.4f})")
        return steps

    # === The modes ===
    def run(self, mode):
        """Runs `mode` (after `restore`); returns the results by section."""
        results = {}
        if mode == "eval":
            if not self.restored:
                raise MissingFileError(f"No checkpoint in {self.model_dir} to evaluate.")
            results["eval"] = self.evaluate()
        elif mode == "continuous_eval":
            results["eval"] = self.evaluate_continuously()
        else:
            results["train"] = self.train(evaluate=mode == "train_and_eval")
            if self.last_eval:
                results["eval"] = self.last_eval
            if results["train"] and self.task.config.export and self.is_chief:
                results["export"] = self.export(self.task.config.vocab_file)
        results["step"] = self.step
        results["checkpoint"] = self.manager.latest_checkpoint
        return results

    def _controller(self, train_actions=()):
        config = self.config
        # Each loop ends on the next multiple of every interval, so
        # checkpoints, summaries and evaluations land on exact steps.
        intervals = [config.steps_per_loop, config.summary_interval,
                     config.checkpoint_interval, config.validation_interval]
        intervals = [i for i in intervals if i and i > 0]
        summaries = self.write_dir if self.is_chief else None
        eval_dir = summaries and os.path.join(summaries, config.validation_summary_subdir)
        global_step = self.trainable.optimizer.iterations.value
        loss_guard = actions.LossGuard(
            self.trainable.optimizer.iterations, self.manager, self.trainable.restore_weights,
            config.loss_upper_bound, config.recovery_begin_steps, config.recovery_max_trials)
        eval_actions = [self.eval_results]
        if self.best_exporter:
            eval_actions.append(lambda results: self.best_exporter.maybe_export_checkpoint(
                self.trainable.checkpoint, results, self.step))
        return _Controller(
            global_step=global_step,
            trainer=self.trainable, evaluator=self.trainable, strategy=self.strategy,
            train_actions=[loss_guard, *train_actions], eval_actions=eval_actions,
            steps_per_loop=lambda step: min(i - step % i for i in intervals),
            checkpoint_manager=self.manager,
            summary_manager=actions.GridSummaries(
                summaries and os.path.join(summaries, "train"), global_step,
                config.summary_interval, config.train_steps),
            # Orbit uses eval_summary_manager only when eval_summary_dir is set.
            eval_summary_dir=eval_dir,
            eval_summary_manager=actions.Summaries(eval_dir, tf.summary.scalar, global_step),
        )

    def train(self, evaluate=False):
        """Trains to `trainer.train_steps`; returns the final logs."""
        total = self.config.train_steps
        if self.step >= total:
            log(f"model_dir is already trained to step {self.step} (train_steps={total}); nothing to do")
            return {}
        self.task.check_batch_fits("train")
        if evaluate:
            self.task.check_batch_fits("validation")
        self.trainable.open_train_data(self.restored)
        first_step, start = self.step, time.time()
        warmed = self.warm_token_table()
        eta = Eta(total)
        eta.update(first_step)
        logs = {}
        progress = actions.ProgressLine(self.trainable.optimizer.iterations, eta,
                                        self.config.summary_interval, total)
        controller = self._controller([progress, logs.update, *self.preemption.loop_actions()])
        with self._run_errors(), self.preemption.stop_on_signals():
            if evaluate:
                self._train_then_evaluate(controller, total)
            else:
                controller.train(total)
        logs["wall_seconds"] = time.time() - start
        logs.update(run_flop_totals(self.model.encoder, self.task.data("train"),
                                    self.task.config.token_table_warmup_steps, first_step, self.step, warmed))
        log(
            f"trained steps {first_step}-{self.step} in {format_duration(logs['wall_seconds'])} "
            f"({format_duration(self.trainable.train_seconds)} in steps), {logs['train_flops']:.3g} FLOPs; "
            f"the model_dir's {self.step} steps: {logs['total_flops']:.3g} FLOPs (FLOP model)"
        )
        return logs

    def _train_then_evaluate(self, controller, total):
        # Evaluations on multiples of the interval, a resumed run's too
        # (Orbit's train_and_evaluate counts from where it starts), and at
        # the end.
        config = self.config
        interval = config.validation_interval if config.validation_interval > 0 else total
        while self.step < total:
            target = min(total, (self.step // interval + 1) * interval)
            controller.train(target, checkpoint_at_completion=target == total)
            controller.evaluate(config.validation_steps or -1)

    def evaluate(self):
        """Evaluates the model as it stands (`trainer.validation_steps`
        batches, all if 0); returns the results."""
        with self._run_errors():
            self._controller().evaluate(self.config.validation_steps or -1)
        return self.last_eval

    def evaluate_continuously(self):
        """Model Garden's `continuous_eval`: evaluates each new checkpoint a
        training run writes to model_dir, until one reaches
        `trainer.train_steps` or none comes for `continuous_eval_timeout`
        seconds; returns the last results."""
        total, timeout = self.config.train_steps, self.config.continuous_eval_timeout
        # As Model Garden documents the key: the most seconds to wait
        # between checkpoints (no timeout_fn, which in Model Garden keeps
        # waiting below train_steps, forever if the trainer is gone).
        for path in tf.train.checkpoints_iterator(self.model_dir, timeout=timeout):
            if path != self.restored:  # the runner restored the newest one already
                checkpoints.restore(self.trainable.checkpoint, path, self.model)
                self.restored = path
            self.evaluate()
            if self.step >= total:
                break
        else:
            log(f"no new checkpoint in {self.model_dir} for trainer.continuous_eval_timeout="
                f"{timeout}s; stopped at step {self.step}")
        return self.last_eval

    @contextlib.contextmanager
    def _run_errors(self):
        """A corrupt input file or a lost worker, wherever in the run (a
        step, a save's collectives), as one of our errors."""
        try:
            yield
        except tf.errors.DataLossError as error:
            paths = [self.task.data(split).input_path for split in self.task.SPLITS]
            raise DataError(corrupt_record_message(paths, error)) from None
        except (tf.errors.UnavailableError, tf.errors.AbortedError,
                tf.errors.DeadlineExceededError) as error:
            if cluster.worker_count(self.strategy) > 1:
                raise cluster.worker_lost(error, self.strategy, self.model_dir) from None
            raise

    def export(self, vocab_file):
        """Writes a keras-hub BERT preset (with masked-LM head and tokenizer)."""
        directory = os.path.join(self.model_dir, "export")
        sequence_length = self.task.data("train").seq_length
        write_preset(self.model, vocab_file, directory, sequence_length)
        log(f"exported keras-hub BERT preset to {directory}")
        return directory

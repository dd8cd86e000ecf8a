"""The pretraining run on Orbit: `orbit.Controller` schedules the loops of
XLA-compiled replica steps, checkpoints, summaries, evaluation and the NaN
stop, as Model Garden's own trainers do.

Keras' `fit` stays the API for simple single-device use. The trainer runs
its own steps because `fit` fails under MultiWorkerMirroredStrategy on this
stack (tensorflow#72388) and compiles a whole multi-replica step into one
XLA function (keras#19005). Its steps are `official_tokendrop.backend.tensorflow`'s,
the ones the pretrainer's `train_step` / `test_step` run under `fit`, so
both paths compute the same thing. Orbit only calls `train(num_steps)` and
`evaluate(num_steps)`, so it carries the per-replica XLA step unchanged.
"""

import contextlib
import functools
import json
import math
import os
import re
import sys
import time

import orbit
import tensorflow as tf

from official_tokendrop.core import checkpoints, optimization
from official_tokendrop.backend import tensorflow as tensorflow_steps
from official_tokendrop.errors import DataError, RunError
from official_tokendrop.models.flops import encoder_run_flops
from official_tokendrop.utils.progress import Eta, format_duration
from official_tokendrop.core.task import PretrainingTask, mixed_precision_policy


def _cluster(strategy):
    """(task type, task id, {job: tasks}) of a multi-worker strategy, else None."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def _is_chief(strategy):
    cluster = _cluster(strategy)
    if cluster is None:
        return True
    task_type, task_id, jobs = cluster
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in jobs)


def _worker_count(strategy):
    cluster = _cluster(strategy)
    return 1 if cluster is None else sum(len(tasks) for tasks in cluster[2].values())


def _corrupt_record_message(input_paths, error):
    """Names the TFRecord file that tf.data's DataLossError does not."""
    from official_tokendrop.data.file_patterns import expand_input_files

    for input_path in input_paths:
        for path in expand_input_files(input_path):
            try:
                for _ in tf.data.TFRecordDataset(path):
                    pass
            except tf.errors.DataLossError:
                return f"{path} is corrupt (truncated or damaged TFRecord); reconvert or remove it."
    return f"corrupt TFRecord in {', '.join(input_paths)}: {error.message.splitlines()[0]}"


class TrainingDiverged(RunError):
    """The loss became NaN or infinite."""


class WorkerLost(RunError):
    """A worker of a multi-worker run stopped; the others cannot go on."""


def _worker_lost_message(error, own_task, latest):
    """One line from TensorFlow's many: which worker stopped, and what to do.

    TensorFlow names the lost task in some of its messages (a heartbeat
    timeout) and not in others (an aborted collective)."""
    tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", str(error))) - {own_task})
    who = f" ({', '.join(tasks)})" if tasks else ""
    return (f"a worker of this multi-worker run stopped{who}; the run cannot continue without "
            f"it. Restart every worker with the same command: they resume from {latest or 'step 0'}.")


def _log(message):
    print(message, file=sys.stderr, flush=True)


class _Checkpoints(tf.train.CheckpointManager):
    """Saves when the step is a multiple of `interval` (or when Orbit asks
    for a final save), at most once per step, and says so on stderr.

    TensorFlow's own interval counts from the first save, which would put
    the first checkpoint after the first loop instead of at `interval`."""

    def __init__(self, checkpoint, directory, max_to_keep, step, interval):
        super().__init__(checkpoint, directory, max_to_keep=max_to_keep)
        self._step, self._interval, self._saved_at = step, interval, None

    @property
    def checkpoint_interval(self):
        return self._interval

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        step = int(self._step.numpy())
        if step == self._saved_at or (check_interval and step % self._interval):
            return None
        path = super().save(checkpoint_number=step, options=options)
        self._saved_at = step
        _log(f"saved checkpoint {path}")
        return path


class _Controller(orbit.Controller):
    """Orbit's controller; the trainer restores before building it (the
    newest intact checkpoint, the chief's one on every worker), so its own
    restore from `checkpoint_manager` is not repeated."""

    def restore_checkpoint(self, checkpoint_path=None):
        return None


def _on_summary_grid(step, interval, last_step):
    """Whether a loop ending at `step` reports (train summaries, the
    progress line): multiples of `interval` (every loop if it is <= 0)
    and the last step."""
    return interval <= 0 or step % interval == 0 or step == last_step


class _GridSummaries(orbit.utils.SummaryManager):
    """Orbit writes train summaries after every loop; loops here also end
    at checkpoint and validation steps, so only those on the summary grid
    are written, each the mean of the loop that ended there."""

    def __init__(self, directory, global_step, interval, last_step):
        super().__init__(directory, tf.summary.scalar, global_step=global_step)
        self._interval, self._last_step = interval, last_step

    def write_summaries(self, summary_dict):
        if _on_summary_grid(int(self._global_step.numpy()), self._interval, self._last_step):
            super().write_summaries(summary_dict)


class _Loops(orbit.AbstractTrainer, orbit.AbstractEvaluator):
    """What Orbit drives: `train(num_steps)` and `evaluate(num_steps)`."""

    def __init__(self, trainer):
        super().__init__(name="token_drop_loops")
        self._trainer = trainer

    def train(self, num_steps):
        return self._trainer._train_steps(int(num_steps))

    def evaluate(self, num_steps):
        return self._trainer._evaluate_steps(int(num_steps))


class Trainer:
    """Runs one experiment in `model_dir` under `strategy`."""

    def __init__(self, params, model_dir, strategy):
        import keras

        self.params = params
        self.model_dir = model_dir
        self.strategy = strategy
        self.task = PretrainingTask(params)
        trainer = params.trainer
        keras.mixed_precision.set_global_policy(
            mixed_precision_policy(params.runtime.mixed_precision_dtype)
        )
        if self.task.config.seed is not None:
            keras.utils.set_random_seed(self.task.config.seed)
        with strategy.scope():
            self.model = self.task.build_model()
            variables = self.model.optimized_variables()
            optimizer = optimization.build_optimizer(trainer.optimizer_config, variables)
            if params.runtime.mixed_precision_dtype == "float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            # The trainer chooses the XLA scope of its steps itself (below).
            self.model.compile(optimizer=optimizer, jit_compile=False)
            optimizer.build(variables)
        self.optimizer = optimizer
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=optimizer)
        self.restored = None
        self._iterator = None  # the training data, made on the first `train`
        # Every worker of a multi-worker run must save (the save has
        # collectives); only the chief's files land in model_dir.
        self.is_chief = _is_chief(strategy)
        self.write_dir = model_dir if self.is_chief else os.path.join(
            model_dir, f"worker_{strategy.cluster_resolver.task_id}_tmp"
        )
        self.manager = _Checkpoints(
            self.checkpoint, self.write_dir, trainer.max_to_keep,
            self.optimizer.iterations, trainer.checkpoint_interval,
        )
        # One replica: the whole step is one XLA function. Several: only
        # each replica's forward/backward is (keras-team/keras#19005).
        xla, replicas = bool(params.runtime.enable_xla), strategy.num_replicas_in_sync
        self._train_step = functools.partial(
            tensorflow_steps.train_step, self.model, replica_jit=xla and replicas > 1
        )
        self._test_step = functools.partial(tensorflow_steps.test_step, self.model)
        if xla and replicas == 1:
            self._train_step = tf.function(self._train_step, jit_compile=True)
            self._test_step = tf.function(self._test_step, jit_compile=True)
        # Built once, so every evaluation and every `train` call reuses one
        # traced loop.
        self._eval_step = tf.function(
            lambda batch: self.strategy.run(self._test_step, args=(batch,))
        )
        self._train_loop = tf.function(self._run_train_steps)
        self.last_eval = None
        self.train_seconds = 0.0  # time in training steps, this process

    # === State ===
    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def restore(self):
        """Restores the newest intact checkpoint; returns its path or None.

        Never restarts a model_dir that holds checkpoints: a lost index
        file or a corrupt newest checkpoint falls back to the newest intact
        one (with a warning), and a checkpoint of another model is refused.
        """
        # Every worker restores the chief's checkpoint, so all resume at
        # one step even if a worker died before finishing its own copy.
        path = checkpoints.restore_newest_intact(
            self.checkpoint, self.model_dir, self.model, "the configured model"
        )
        if path:
            _log(f"restored {path} at step {self.step}")
        self.restored = path
        return path

    def _resumable_iterator(self):
        """The training data iterator, resumed where the restored checkpoint
        left it; from here on every checkpoint saves its state.

        Checkpoints carry the random states of dropout and random keep and,
        with one replica, the input iterator (position, shuffle buffer,
        dynamic-masking seeds), so a resumed run continues exactly as the
        uninterrupted one. TensorFlow's distributed iterators cannot be
        checkpointed: with several replicas the data reshuffles from the
        resumed step instead, so no batch is replayed.
        """
        seed = self.task.train_seed
        # Without dropout or random keep there are no random states to save.
        randoms = self._random_states()
        state = {"random": randoms} if randoms else {}
        if self.strategy.num_replicas_in_sync == 1:
            # strategy.run takes the batch of a plain (checkpointable) iterator.
            state["data"] = iter(self.task.build_inputs("train", seed=seed))
        saved = checkpoints.resume_state_keys(self.restored) if self.restored else set(state)
        if self.restored and not set(state) <= saved:
            _log(f"WARNING: {self.restored} holds no input position or random state (a checkpoint "
                 "of an older version or of several replicas); training continues on data "
                 "reshuffled from its step, not exactly as an uninterrupted run would")
            state.pop("data", None)
        if "data" in state:
            iterator = state["data"]
        else:
            iterator = iter(self.task.distributed_inputs(self.strategy, "train", seed=seed + self.step))
        state = tf.train.Checkpoint(**state)
        if self.restored and saved:
            tf.train.Checkpoint(resume=state).read(self.restored).expect_partial()
        self.checkpoint.resume = state
        return iterator

    def _random_states(self):
        # Keras' seed generators (dropout, random keep) are not part of the
        # model's TensorFlow checkpoint; without them a resumed run would
        # draw its first masks again.
        return [v.value for v in self.model.variables if v.name == "seed_generator_state"]

    # === Loops (Orbit calls these) ===
    def _reset_metrics(self):
        for metric in self.model.metrics:
            metric.reset_state()

    def _results(self, outputs):
        # Metric states may be per replica (multi-worker); their mean is the
        # global value (the loss metric is scaled for that in the model).
        mean = tf.distribute.ReduceOp.MEAN
        return {k: float(self.strategy.reduce(mean, v, axis=None)) for k, v in outputs.items()}

    def _run_train_steps(self, iterator, steps):
        outputs = self.strategy.run(self._train_step, args=(next(iterator),))
        for _ in tf.range(steps - 1):
            outputs = self.strategy.run(self._train_step, args=(next(iterator),))
        return outputs

    def _train_steps(self, steps):
        """`steps` training steps; the loop's mean metrics and rates."""
        self._reset_metrics()
        start = time.time()
        logs = self._results(self._train_loop(self._iterator, tf.constant(steps)))
        elapsed = time.time() - start
        self.train_seconds += elapsed
        logs["learning_rate"] = float(self.optimizer.learning_rate)
        logs["examples_per_second"] = steps * self.task.data("train").global_batch_size / elapsed
        logs["kept_token_fraction"] = self.model.encoder.kept_fraction(
            self.task.data("train").seq_length, self.step - steps, self.step)
        return logs

    def _evaluate_steps(self, steps):
        """MLM loss and accuracy of the full (no-dropping) encoder over
        `steps` validation batches (-1: all of them)."""
        self._reset_metrics()
        outputs, count = None, 0
        for batch in self.task.distributed_inputs(self.strategy, "validation"):
            if 0 < steps <= count:
                break
            outputs = self._eval_step(batch)
            count += 1
        if outputs is None:
            raise DataError(f"validation data {self.task.data('validation').input_path} gave no full batch.")
        results = self._results(outputs)
        results["train_seconds"] = self.train_seconds
        self._reset_metrics()
        _log(
            f"eval at step {self.step} over {count} batches | loss {results['loss']:.4f} | "
            f"mlm_acc {results['mlm_accuracy']:.4f}"
        )
        return results

    # === Actions Orbit calls after each loop / evaluation ===
    def _stop_on_nan(self, logs):
        """Ends the run before the loop's checkpoint if the loss diverged."""
        if not all(math.isfinite(v) for v in logs.values()):
            last = self.manager.latest_checkpoint or "none"
            raise TrainingDiverged(
                f"loss is {logs['loss']} at step {self.step}; stopped without saving. "
                f"Last good checkpoint: {last}"
            )

    def _progress(self, eta, total):
        def action(logs):
            step = self.step
            eta.update(step)
            if not _on_summary_grid(step, self.params.trainer.summary_interval, total):
                return
            _log(
                f"step {step}/{total} | loss {logs['loss']:.4f} | mlm_acc "
                f"{logs['mlm_accuracy']:.4f} | lr {logs['learning_rate']:.3g} | "
                f"{logs['examples_per_second']:.1f} ex/s | kept {logs['kept_token_fraction']:.2f} | "
                f"{eta.describe()}"
            )
        return action

    def _keep_eval(self, results):
        results["step"] = self.step
        with tf.io.gfile.GFile(os.path.join(self.write_dir, "eval_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        self.last_eval = dict(results)

    def _controller(self, train_actions=()):
        trainer = self.params.trainer
        # Each loop ends on the next multiple of every interval, so
        # checkpoints, summaries and evaluations land on exact steps.
        intervals = [trainer.steps_per_loop, trainer.summary_interval,
                     trainer.checkpoint_interval, trainer.validation_interval]
        intervals = [i for i in intervals if i and i > 0]
        loops = _Loops(self)
        summaries = self.write_dir if self.is_chief else None
        global_step = self.optimizer.iterations.value
        return _Controller(
            global_step=global_step,
            trainer=loops, evaluator=loops, strategy=self.strategy,
            train_actions=[self._stop_on_nan, *train_actions], eval_actions=[self._keep_eval],
            steps_per_loop=lambda step: min(i - step % i for i in intervals),
            checkpoint_manager=self.manager,
            summary_manager=_GridSummaries(summaries and os.path.join(summaries, "train"), global_step,
                                           trainer.summary_interval, trainer.train_steps),
            eval_summary_dir=summaries and os.path.join(summaries, "eval"),
        )

    # === The run ===
    def train(self, evaluate=False):
        """Trains to `trainer.train_steps`; returns the final logs."""
        trainer = self.params.trainer
        total = trainer.train_steps
        if self.step >= total:
            _log(f"model_dir is already trained to step {self.step} (train_steps={total}); nothing to do")
            return {}
        self.task.check_batch_fits("train")
        if evaluate:
            self.task.check_batch_fits("validation")
        if self._iterator is None:
            self._iterator = self._resumable_iterator()
        first_step, start = self.step, time.time()
        eta = Eta(total)
        eta.update(first_step)
        logs = {}
        controller = self._controller([self._progress(eta, total), logs.update])
        with self._run_errors():
            if evaluate:
                # Evaluations on multiples of the interval, a resumed run's
                # too (Orbit's train_and_evaluate counts from where it
                # starts), and at the end.
                interval = trainer.validation_interval if trainer.validation_interval > 0 else total
                while self.step < total:
                    target = min(total, (self.step // interval + 1) * interval)
                    controller.train(target, checkpoint_at_completion=target == total)
                    controller.evaluate(trainer.validation_steps or -1)
            else:
                controller.train(total)
        logs["wall_seconds"] = time.time() - start
        data = self.task.data("train")

        def flops(first):
            return float(encoder_run_flops(self.model.encoder, data.seq_length,
                                           data.max_predictions_per_seq, data.global_batch_size,
                                           first, self.step))
        logs["steps_this_run"] = self.step - first_step
        logs["train_flops"] = flops(first_step)
        logs["total_flops"] = flops(0)
        _log(
            f"trained steps {first_step}-{self.step} in {format_duration(logs['wall_seconds'])} "
            f"({format_duration(self.train_seconds)} in steps), {logs['train_flops']:.3g} FLOPs; "
            f"the model_dir's {self.step} steps: {logs['total_flops']:.3g} FLOPs (FLOP model)"
        )
        return logs

    @contextlib.contextmanager
    def _run_errors(self):
        """A corrupt input file or a lost worker, wherever in the run (a
        step, a save's collectives), as one of our errors."""
        try:
            yield
        except tf.errors.DataLossError as error:
            paths = [self.task.data(split).input_path for split in self.task.SPLITS]
            raise DataError(_corrupt_record_message(paths, error)) from None
        except (tf.errors.UnavailableError, tf.errors.AbortedError,
                tf.errors.DeadlineExceededError) as error:
            if _worker_count(self.strategy) > 1:
                latest = (checkpoints.candidates(self.model_dir) or [None])[0]
                resolver = self.strategy.cluster_resolver
                own = f"/job:{resolver.task_type}/replica:0/task:{resolver.task_id}"
                raise WorkerLost(_worker_lost_message(error, own, latest)) from None
            raise

    def evaluate(self):
        """Evaluates the model as it stands (`trainer.validation_steps`
        batches, all if 0); returns the results."""
        with self._run_errors():
            self._controller().evaluate(self.params.trainer.validation_steps or -1)
        return self.last_eval

    def export(self, vocab_file):
        """Writes a keras-hub BERT preset (with masked-LM head and tokenizer)."""
        from official_tokendrop.interop.keras_hub import to_keras_hub_masked_lm

        directory = os.path.join(self.model_dir, "export")
        sequence_length = self.task.data("train").seq_length
        to_keras_hub_masked_lm(self.model, vocab_file, sequence_length).save_to_preset(directory)
        _log(f"exported keras-hub BERT preset to {directory}")
        return directory

"""The pretraining loop: `strategy.run` over XLA-compiled replica steps,
TensorFlow checkpoints, evaluation, logs and TensorBoard summaries.

Keras' `fit` stays the API for simple single-device use. The trainer runs
its own loop because `fit` fails under MultiWorkerMirroredStrategy on this
stack (tensorflow#72388) and compiles a whole multi-replica step into one
XLA function (keras#19005). Its steps are `official_tokendrop.backend.tensorflow`'s,
the ones the pretrainer's `train_step` / `test_step` run under `fit`, so
both paths compute the same thing.
"""

import functools
import json
import math
import os
import re
import sys
import time

import tensorflow as tf

from official_tokendrop import checkpoints, optimization
from official_tokendrop.backend import tensorflow as tensorflow_steps
from official_tokendrop.errors import DataError, RunError
from official_tokendrop.flops import encoder_step_flops
from official_tokendrop.progress import Eta, format_duration
from official_tokendrop.task import PretrainingTask, mixed_precision_policy


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _worker_count(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    return sum(len(tasks) for tasks in resolver.cluster_spec().as_dict().values())


def _corrupt_record_message(input_path, error):
    """Names the TFRecord file that tf.data's DataLossError does not."""
    from official_tokendrop.data.file_patterns import expand_input_files

    for path in expand_input_files(input_path):
        try:
            for _ in tf.data.TFRecordDataset(path):
                pass
        except tf.errors.DataLossError:
            return f"{path} is corrupt (truncated or damaged TFRecord); reconvert or remove it."
    return f"corrupt TFRecord in {input_path}: {error.message.splitlines()[0]}"


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
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.write_dir, max_to_keep=trainer.max_to_keep
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
        self._writers = {}
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

    def save(self):
        path = self.manager.save(checkpoint_number=self.step)
        _log(f"saved checkpoint {path}")
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
        data = self.task.config.train_data
        seed = 1_000_003 * (self.task.config.seed or 0)
        # Without dropout or random keep there are no random states to save.
        randoms = self._random_states()
        state = {"random": randoms} if randoms else {}
        if self.strategy.num_replicas_in_sync == 1:
            # strategy.run takes the batch of a plain (checkpointable) iterator.
            state["data"] = iter(self.task.build_inputs(data, seed=seed))
        saved = checkpoints.resume_state_keys(self.restored) if self.restored else set(state)
        if self.restored and not set(state) <= saved:
            _log(f"WARNING: {self.restored} holds no input position or random state (a checkpoint "
                 "of an older version or of several replicas); training continues on data "
                 "reshuffled from its step, not exactly as an uninterrupted run would")
            state.pop("data", None)
        if "data" in state:
            iterator = state["data"]
        else:
            iterator = iter(self._distributed(data, seed=seed + self.step))
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

    # === Loops ===
    def _distributed(self, data, seed=None):
        return self.strategy.distribute_datasets_from_function(
            lambda context: self.task.build_inputs(data, context, seed=seed)
        )

    def _reset_metrics(self):
        for metric in self.model.metrics:
            metric.reset_state()

    def _results(self, outputs):
        # Metric states may be per replica (multi-worker); their mean is the
        # global value (the loss metric is scaled for that in the model).
        mean = tf.distribute.ReduceOp.MEAN
        return {k: float(self.strategy.reduce(mean, v, axis=None)) for k, v in outputs.items()}

    def _summary(self, name, values):
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(os.path.join(self.write_dir, name))
        with self._writers[name].as_default(step=self.step):
            for key, value in values.items():
                tf.summary.scalar(key, value)
        self._writers[name].flush()

    def _run_train_steps(self, iterator, steps):
        outputs = self.strategy.run(self._train_step, args=(next(iterator),))
        for _ in tf.range(steps - 1):
            outputs = self.strategy.run(self._train_step, args=(next(iterator),))
        return outputs

    def train(self, evaluate=False):
        """Trains to `trainer.train_steps`; returns the final logs."""
        trainer = self.params.trainer
        total = trainer.train_steps
        if self.step >= total:
            _log(f"model_dir is already trained to step {self.step} (train_steps={total}); nothing to do")
            return {}
        self.task.check_batch_fits("train_data")
        if evaluate:
            self.task.check_batch_fits("validation_data")
        if self._iterator is None:
            self._iterator = self._resumable_iterator()
        iterator = self._iterator

        batch = self.task.config.train_data.global_batch_size
        seq_length = self.task.config.train_data.seq_length
        encoder = self.model.encoder
        kept = encoder.kept_fraction(seq_length)
        start, logs = time.time(), {}
        eta = Eta(total)
        eta.update(self.step)
        first_step = self.step
        boundaries = [trainer.steps_per_loop, trainer.summary_interval, trainer.checkpoint_interval]
        if evaluate:
            boundaries.append(trainer.validation_interval)
        boundaries = [b for b in boundaries if b and b > 0]
        self._reset_metrics()
        while self.step < total:
            step = self.step
            chunk_start = time.time()
            steps = min([b - step % b for b in boundaries] + [total - step])
            try:
                logs = self._results(self._train_loop(iterator, tf.constant(steps)))
            except tf.errors.DataLossError as error:
                raise DataError(_corrupt_record_message(
                    self.task.config.train_data.input_path, error)) from None
            except (tf.errors.UnavailableError, tf.errors.AbortedError,
                    tf.errors.DeadlineExceededError) as error:
                if _worker_count(self.strategy) > 1:
                    latest = (checkpoints.candidates(self.model_dir) or [None])[0]
                    resolver = self.strategy.cluster_resolver
                    own = f"/job:{resolver.task_type}/replica:0/task:{resolver.task_id}"
                    raise WorkerLost(_worker_lost_message(error, own, latest)) from None
                raise
            elapsed = time.time() - chunk_start
            self.train_seconds += elapsed
            step = self.step
            if not all(math.isfinite(v) for v in logs.values()):
                last = self.manager.latest_checkpoint or "none"
                raise TrainingDiverged(
                    f"loss is {logs['loss']} at step {step}; stopped without saving. "
                    f"Last good checkpoint: {last}"
                )
            logs["learning_rate"] = float(self.optimizer.learning_rate)
            logs["examples_per_second"] = steps * batch / elapsed
            logs["kept_token_fraction"] = kept
            eta.update(step)
            if step % (trainer.summary_interval or 1) == 0 or step == total:
                _log(
                    f"step {step}/{total} | loss {logs['loss']:.4f} | mlm_acc "
                    f"{logs['mlm_accuracy']:.4f} | lr {logs['learning_rate']:.3g} | "
                    f"{logs['examples_per_second']:.1f} ex/s | kept {kept:.2f} | "
                    f"{eta.describe()}"
                )
                self._summary("train", logs)
                self._reset_metrics()
            if step % trainer.checkpoint_interval == 0 or step == total:
                self.save()
            if evaluate and (step % trainer.validation_interval == 0 or step == total):
                self.evaluate()
        logs["wall_seconds"] = time.time() - start
        step_flops = encoder_step_flops(
            encoder, seq_length, self.task.config.train_data.max_predictions_per_seq, batch
        ).training_step
        logs["steps_this_run"] = self.step - first_step
        logs["train_flops"] = float(step_flops * logs["steps_this_run"])
        logs["total_flops"] = float(step_flops * self.step)
        _log(
            f"trained steps {first_step}-{self.step} in {format_duration(logs['wall_seconds'])} "
            f"({format_duration(self.train_seconds)} in steps), {logs['train_flops']:.3g} FLOPs; "
            f"the model_dir's {self.step} steps: {logs['total_flops']:.3g} FLOPs (FLOP model)"
        )
        return logs

    def evaluate(self):
        """MLM loss and accuracy of the full (no-dropping) encoder."""
        data = self.task.config.validation_data
        dataset = self._distributed(data)
        steps = self.params.trainer.validation_steps

        self._reset_metrics()
        outputs, count = None, 0
        for batch in dataset:
            if steps and 0 < steps <= count:
                break
            outputs = self._eval_step(batch)
            count += 1
        if outputs is None:
            raise DataError(f"validation data {data.input_path} gave no full batch.")
        results = self._results(outputs)
        results["train_seconds"] = self.train_seconds
        results["step"] = self.step
        self._reset_metrics()
        _log(
            f"eval at step {self.step} over {count} batches | loss {results['loss']:.4f} | "
            f"mlm_acc {results['mlm_accuracy']:.4f}"
        )
        self._summary("eval", {k: v for k, v in results.items() if k != "step"})
        with tf.io.gfile.GFile(os.path.join(self.write_dir, "eval_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        self.last_eval = results
        return results

    def export(self, vocab_file):
        """Writes a keras-hub BERT preset (with masked-LM head and tokenizer)."""
        from official_tokendrop.export import to_keras_hub_masked_lm

        directory = os.path.join(self.model_dir, "export")
        sequence_length = self.task.config.train_data.seq_length
        to_keras_hub_masked_lm(self.model, vocab_file, sequence_length).save_to_preset(directory)
        _log(f"exported keras-hub BERT preset to {directory}")
        return directory

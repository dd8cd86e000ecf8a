"""What Orbit drives: the pretrainer's compiled steps and loops.

Keras' `fit` stays the API for simple single-device use. The run drives
its own steps because `fit` fails under MultiWorkerMirroredStrategy on
this stack (tensorflow#72388) and compiles a whole multi-replica step into
one XLA function (keras#19005). Its steps are
`official_tokendrop.backend.tensorflow`'s, the ones the pretrainer's
`train_step` / `test_step` run under `fit`, so both paths compute the same
thing. Orbit only calls `train(num_steps)` and `evaluate(num_steps)`, so
it carries the per-replica XLA step unchanged.

Names: `train_step(batch)` is one replica's step; `train_loop(iterator,
steps)` the traced loop of `steps` of them on every replica; `train(
num_steps)` Orbit's call, one loop with its mean metrics and rates.
"""

import functools
import time

import keras
import orbit
import tensorflow as tf

from official_tokendrop.backend import tensorflow as tensorflow_steps
from official_tokendrop.core import checkpoints, optimization
from official_tokendrop.core.actions import log
from official_tokendrop.core.preemption import StopRequested
from official_tokendrop.core.task import mixed_precision_policy
from official_tokendrop.errors import DataError


class PretrainingTrainable(orbit.AbstractTrainer, orbit.AbstractEvaluator):
    """The pretrainer of `task` with its optimizer under `strategy`, and
    the steps and loops Orbit runs: `train(num_steps)`, `evaluate(num_steps)`.

    `optimizer_config` is `params.trainer.optimizer_config`; `runtime`
    (`params.runtime`) gives the precision (the model's own dtype policy,
    not the global one) and whether the steps are XLA-compiled.
    """

    def __init__(self, task, optimizer_config, runtime, strategy):
        super().__init__(name="token_drop_trainable")
        self.task, self.strategy = task, strategy
        precision = runtime.mixed_precision_dtype
        policy = mixed_precision_policy(precision)
        with strategy.scope():
            self.model = task.build_model(dtype=policy)
            variables = self.model.optimized_variables()
            optimizer = optimization.build_optimizer(optimizer_config, variables)
            if precision == "float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            # The trainable chooses the XLA scope of its steps itself (below).
            self.model.compile(optimizer=optimizer, jit_compile=False)
            optimizer.build(variables)
        self.optimizer = optimizer
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=optimizer)
        self._build_steps(bool(runtime.enable_xla), strategy.num_replicas_in_sync)
        self._iterator = None  # the training data, opened by `open_train_data`
        # Set by a signal (core/preemption): the loop stops at the step reached.
        self.stop_requested = tf.Variable(False, trainable=False, name="stop_requested")
        self.train_seconds = 0.0  # time in training steps, this process

    def _build_steps(self, xla, replicas):
        # One replica: the whole step is one XLA function. Several: only
        # each replica's forward/backward is (keras-team/keras#19005). With
        # one replica the step is a tf.function with or without XLA, so the
        # training loop, which calls it before and inside its `tf.range`,
        # traces it once; with several it stays a plain function (a nested
        # function there loses the inputs of its conditionals).
        def replica_step(step, **kwargs):
            step = functools.partial(step, self.model, **kwargs)
            return tf.function(step, jit_compile=xla) if replicas == 1 else step

        replica_jit = xla and replicas > 1
        self._replica_train_step = replica_step(tensorflow_steps.train_step, replica_jit=replica_jit)
        self._replica_test_step = replica_step(tensorflow_steps.test_step)
        self._replica_warmup_step = replica_step(tensorflow_steps.table_warmup_step, replica_jit=replica_jit)
        # Built once, so every evaluation and every `train` call reuses one
        # traced function.
        self._eval_step = tf.function(
            lambda batch: self.strategy.run(self._replica_test_step, args=(batch,))
        )
        self._warmup_step = tf.function(
            lambda batch: self.strategy.run(self._replica_warmup_step, args=(batch,))
        )
        self.train_loop = tf.function(self._steps_on_every_replica)

    # === State ===
    @property
    def step(self):
        return int(self.optimizer.iterations.numpy())

    def train_step(self, batch):
        """One replica's training step on `batch` (compiled as the run's);
        returns its logs. For benchmarks: the bare step without the loop."""
        return self._replica_train_step(batch)

    def table_warmup_step(self, batch):
        """One replica's table warm-up step on `batch` (compiled as the
        run's); returns its logs. For benchmarks, as `train_step`."""
        return self._replica_warmup_step(batch)

    def warm_token_table(self, steps):
        """The token table's warm-up (`backend.tensorflow.table_warmup_step`)
        over the first `steps` batches of this run's training data order,
        read by an iterator of its own: the training steps then see the
        batches they would without it. Returns the batches' mean loss."""
        iterator = iter(self.task.distributed_inputs(self.strategy, "train", seed=self.task.train_seed))
        total = 0.0
        for _ in range(steps):
            # Each replica's loss is its share of the global mean.
            loss = self._warmup_step(next(iterator))["loss"]
            total += float(self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None))
        return total / steps

    def train_loop_tracing_count(self):
        """How often the training loop was traced (once per object)."""
        return self.train_loop.experimental_get_tracing_count()

    def restore_weights(self, path):
        """The weights and optimizer state of checkpoint `path`; the input
        position and the random states go on (recovery from a divergence)."""
        tf.train.Checkpoint(model=self.model, optimizer=self.optimizer).read(path).expect_partial()

    def open_train_data(self, restored=None):
        """Opens the training data iterator, resumed where the checkpoint
        `restored` (None: a fresh run) left it; from here on every
        checkpoint saves its state. Only the first call opens it.

        Checkpoints carry the random states of dropout and random keep and,
        with one replica, the input iterator (position, shuffle buffer,
        dynamic-masking seeds), so a resumed run continues exactly as the
        uninterrupted one. TensorFlow's distributed iterators cannot be
        checkpointed: with several replicas the data reshuffles from the
        resumed step instead, so no batch is replayed.
        """
        if self._iterator is not None:
            return
        seed = self.task.train_seed
        # Without dropout or random keep there are no random states to save.
        randoms = self._random_states()
        state = {"random": randoms} if randoms else {}
        if self.strategy.num_replicas_in_sync == 1:
            # strategy.run takes the batch of a plain (checkpointable) iterator.
            state["data"] = iter(self.task.build_inputs("train", seed=seed))
        saved = checkpoints.resume_state_keys(restored) if restored else set(state)
        if restored and not set(state) <= saved:
            log(f"WARNING: {restored} holds no input position or random state (a checkpoint "
                "of an older version or of several replicas); training continues on data "
                "reshuffled from its step, not exactly as an uninterrupted run would")
            state.pop("data", None)
        if "data" in state:
            self._iterator = state["data"]
        else:
            self._iterator = iter(
                self.task.distributed_inputs(self.strategy, "train", seed=seed + self.step))
        state = tf.train.Checkpoint(**state)
        if restored and saved:
            tf.train.Checkpoint(resume=state).read(restored).expect_partial()
        self.checkpoint.resume = state

    def _random_states(self):
        # Keras' seed generators (dropout, random keep) are not part of the
        # model's TensorFlow checkpoint; without them a resumed run would
        # draw its first masks again.
        return [v.value for v in self.model.variables if v.name == "seed_generator_state"]

    # === Metrics ===
    def _reset_metrics(self):
        for metric in self.model.metrics:
            metric.reset_state()

    def _results(self, outputs):
        # Metric states may be per replica (multi-worker); their mean is the
        # global value (the loss metric is scaled for that in the model).
        mean = tf.distribute.ReduceOp.MEAN
        return {k: float(self.strategy.reduce(mean, v, axis=None)) for k, v in outputs.items()}

    # === Loops (Orbit calls `train` and `evaluate`) ===
    def _steps_on_every_replica(self, iterator, steps):
        outputs = self.strategy.run(self._replica_train_step, args=(next(iterator),))
        for _ in tf.range(steps - 1):
            if self.stop_requested:
                break
            outputs = self.strategy.run(self._replica_train_step, args=(next(iterator),))
        return outputs

    def train(self, num_steps):
        """`num_steps` training steps; the loop's mean metrics and rates."""
        if self.stop_requested.numpy():
            raise StopRequested()
        steps = int(num_steps)
        self._reset_metrics()
        start = time.time()
        logs = self._results(self.train_loop(self._iterator, tf.constant(steps)))
        elapsed = time.time() - start
        self.train_seconds += elapsed
        if self.stop_requested.numpy():
            raise StopRequested()
        data = self.task.data("train")
        logs["learning_rate"] = float(self.optimizer.learning_rate)
        logs["examples_per_second"] = steps * data.global_batch_size / elapsed
        logs["kept_token_fraction"] = self.model.encoder.kept_fraction(
            data.seq_length, self.step - steps, self.step)
        return logs

    def evaluate(self, num_steps):
        """MLM loss and accuracy of the full (no-dropping) encoder over
        `num_steps` validation batches (-1: all of them)."""
        steps = int(num_steps)
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
        log(
            f"eval at step {self.step} over {count} batches | loss {results['loss']:.4f} | "
            f"mlm_acc {results['mlm_accuracy']:.4f}"
        )
        return results

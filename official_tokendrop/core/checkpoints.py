"""The checkpoints of a model_dir: which one to resume, whether it fits the
model, and one run per model_dir at a time.

A model_dir that holds checkpoints is never silently restarted: if the
`checkpoint` index file is lost, the newest `ckpt-N` on disk is used; if
the newest is corrupt (a truncated copy, a full disk), the newest intact
one is, with a warning naming the bad file; if none is intact, the run
stops naming them. A checkpoint whose model differs from the configured
one (more or fewer weights, other shapes) is refused, never half-restored.
"""

import contextlib
import fcntl
import os
import re
import sys

import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from official_tokendrop.errors import DataError, RunError
from official_tokendrop.utils.outputs import writing


class CheckpointMismatch(DataError):
    """A checkpoint does not hold the configured model."""


def _log(message):
    print(message, file=sys.stderr, flush=True)


def candidates(directory):
    """`ckpt-N` prefixes in `directory`, newest (largest N) first."""
    found = []
    for path in tf.io.gfile.glob(os.path.join(directory, "ckpt-*.index")):
        match = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path[: -len(".index")]))
    return [prefix for _, prefix in sorted(found, reverse=True)]


def object_graph(reader):
    """The trackable object graph of a checkpoint (a reader of
    `tf.train.load_checkpoint`): which object holds which variable."""
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return graph


def child(graph, parent, name):
    """The node id of `parent`'s child called `name` in `graph`, or None."""
    return next((c.node_id for c in graph.nodes[parent].children if c.local_name == name), None)


def model_weight_count(checkpoint):
    """Number of model weights a checkpoint holds.

    Counts the variables reachable from the checkpoint's `model` node,
    leaving out the optimizer (a compiled model points at it too).
    """
    graph = object_graph(tf.train.load_checkpoint(checkpoint))
    model = child(graph, 0, "model")
    seen, stack = set(), [model]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(c.node_id for c in graph.nodes[node].children
                         if c.local_name not in ("optimizer", "_compiled_trainable_state"))
    return sum(
        1 for node in seen
        if any(a.name == "VARIABLE_VALUE" for a in graph.nodes[node].attributes)
    )


def resume_state_keys(path):
    """Which parts of the trainer's resume state (`data`: the input
    iterator, `random`: the random states) checkpoint `path` holds; older
    checkpoints hold neither."""
    return {name.split("/")[1] for name, _ in tf.train.list_variables(path) if name.startswith("resume/")}


def restore(checkpoint, path, model, what="the configured model"):
    """Restores `path` into `checkpoint` (a `tf.train.Checkpoint` holding
    `model`); raises `CheckpointMismatch` unless every model weight matches."""
    mismatch = f"{path} does not match {what}"
    try:
        status = checkpoint.restore(path)
        status.expect_partial()  # exporting leaves the optimizer's slots out
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as error:
        raise CheckpointMismatch(f"{mismatch}: {str(error).splitlines()[0]}") from None
    stored, built = model_weight_count(path), len(model.weights)
    if stored != built:
        raise CheckpointMismatch(f"{mismatch}: it holds {stored} model weights, the model has {built}.")


def restore_newest_intact(checkpoint, directory, model, what="the configured model"):
    """Restores the newest intact checkpoint in `directory`; returns its path
    or None when there is none. Corrupt ones are skipped with a warning."""
    found = candidates(directory)
    bad = []
    for path in found:
        try:
            restore(checkpoint, path, model, what)
        except (tf.errors.OpError, IndexError) as error:  # IndexError: a truncated file
            bad.append(path)
            _log(f"WARNING: checkpoint {path} is unreadable ({type(error).__name__}: "
                 f"{str(error).splitlines()[0][:200]}); trying an older one")
            continue
        latest = tf.train.latest_checkpoint(directory)
        if latest != path:
            _log(f"WARNING: resuming from {path}; the checkpoint index named "
                 f"{latest or 'nothing'}")
        return path
    if bad:
        raise DataError(f"every checkpoint in {directory} is unreadable: {', '.join(bad)}; "
                         "move them away to start afresh.")
    return None


@contextlib.contextmanager
def exclusive(directory):
    """Holds `directory`'s run lock; a second run there fails at once.

    An OS file lock: it dies with the process, so a crashed run leaves no
    stale lock. Only local directories are locked (remote file systems
    have no such locks).
    """
    if "://" in directory:
        yield
        return
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, ".run.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise RunError(
                f"{directory} is in use by another training run (pid {owner}); wait for it "
                "to finish or choose another --model_dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class IntervalCheckpointManager(tf.train.CheckpointManager):
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

    def restore_or_initialize(self):
        # The runner restores (the newest intact checkpoint, the chief's on
        # every worker) before anything else; TensorFlow's preemption
        # handler, which calls this, must not restore again.
        return self.latest_checkpoint

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        step = int(self._step.numpy())
        if step == self._saved_at or (check_interval and step % self._interval):
            return None
        prefix = os.path.join(self.directory, f"ckpt-{step}")
        with writing("checkpoint", prefix, lambda: self._discard(prefix)):
            path = super().save(checkpoint_number=step, options=options)
        self._saved_at = step
        _log(f"saved checkpoint {path}")
        return path

    def _discard(self, prefix):
        """After a failed save: removes `prefix`'s files unless they were
        complete (only the `checkpoint` index failed), so no half-written
        checkpoint is left for a resume; says which checkpoint restores."""
        if self.latest_checkpoint != prefix:  # TensorFlow records a save once its files are whole
            for path in tf.io.gfile.glob(f"{prefix}.*") + tf.io.gfile.glob(f"{prefix}_temp"):
                if tf.io.gfile.isdir(path):
                    tf.io.gfile.rmtree(path)
                else:
                    tf.io.gfile.remove(path)
        newest = (candidates(self.directory) or [None])[0]
        if newest == prefix:
            return "; its files are complete (only the checkpoint index was not updated): a rerun resumes from it"
        return f"; its partial files were removed: a rerun resumes from {newest or 'step 0'}"

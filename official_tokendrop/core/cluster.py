"""Who is who in a run: the chief, which writes the run's files, the other
workers of a multi-worker run, and what it means when one of them is lost.

A strategy without a cluster (one device, mirrored replicas in one process)
is one task, the chief.
"""

import os
import re

from official_tokendrop.core import checkpoints
from official_tokendrop.errors import RunError


class WorkerLost(RunError):
    """A worker of a multi-worker run stopped; the others cannot go on."""


def cluster_of(strategy):
    """(task type, task id, {job: tasks}) of a multi-worker strategy, else None."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def is_chief(strategy):
    """Whether this task writes the run's files (the only one unless multi-worker)."""
    cluster = cluster_of(strategy)
    if cluster is None:
        return True
    task_type, task_id, jobs = cluster
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in jobs)


def worker_count(strategy):
    cluster = cluster_of(strategy)
    return 1 if cluster is None else sum(len(tasks) for tasks in cluster[2].values())


def write_dir(model_dir, strategy):
    """Where this task saves: every worker of a multi-worker run must save
    (the save has collectives), but only the chief's files land in
    model_dir; the others write to `model_dir/worker_N_tmp`."""
    if is_chief(strategy):
        return model_dir
    return os.path.join(model_dir, f"worker_{cluster_of(strategy)[1]}_tmp")


def worker_lost_message(error, own_task, latest):
    """One line from TensorFlow's many: which worker stopped, and what to do.

    TensorFlow names the lost task in some of its messages (a heartbeat
    timeout) and not in others (an aborted collective)."""
    tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", str(error))) - {own_task})
    who = f" ({', '.join(tasks)})" if tasks else ""
    return (f"a worker of this multi-worker run stopped{who}; the run cannot continue without "
            f"it. Restart every worker with the same command: they resume from {latest or 'step 0'}.")


def worker_lost(error, strategy, model_dir):
    """The `WorkerLost` of a collective or heartbeat `error` in a
    multi-worker run over `model_dir`."""
    task_type, task_id, _ = cluster_of(strategy)
    latest = (checkpoints.candidates(model_dir) or [None])[0]
    return WorkerLost(worker_lost_message(error, f"/job:{task_type}/replica:0/task:{task_id}", latest))

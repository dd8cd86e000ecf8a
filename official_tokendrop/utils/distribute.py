"""Cross-replica reductions that degrade to identities off `tf.distribute`.

Layers call these so the same code is exact on one device and under a
multi-replica strategy; on non-TensorFlow backends there are no replicas.
"""

import keras


def _replica_context():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def num_replicas_in_sync():
    """Replicas that run each step together (1 off `tf.distribute`)."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def cross_replica_sum(*values):
    """All-reduces `values` with SUM in a replica context; else returns them.

    Returns a tuple matching `values`.
    """
    context = _replica_context()
    if context is None:
        return values
    import tensorflow as tf

    return tuple(context.all_reduce(tf.distribute.ReduceOp.SUM, list(values)))

"""Two fixes that let Keras 3's `fit` train under MultiWorkerMirroredStrategy.

Keras 3.15 (pinned in requirements.txt) fails in `fit` with more than one worker
(keras-team/keras#20585, open): it reduces values across workers with calls that
MultiWorkerMirroredStrategy rejects. Both failing reductions are unnecessary here:

1. Before the first step `fit` averages the first batch over every replica only to learn
   its shapes, passing a tuple that the strategy cannot reduce ("Attempt to convert a
   value (PerReplica...)"). This worker's own part of the batch has the same shapes.
2. After each step it averages every metric over the replicas with `axis=0`, which fails
   for a scalar. Keras' metric variables are sync-on-read with sum aggregation, so the
   metric each replica returns already covers the whole global batch (every worker logs
   the same numbers): the mean over this worker's replicas is that number, with no
   collective.

tests/models/test_multiworker.py checks the result against one process with the same global
batch, so a Keras upgrade that changes either place fails there.
"""

from typing import Any

import keras
import tensorflow as tf
from keras.src import tree
from keras.src.backend.tensorflow import trainer as tf_trainer


def _not_across_workers(strategy: tf.distribute.Strategy) -> bool:
    return False  # see 2. above: reduce metrics over this worker's replicas only


def enable(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Make `model.fit` work under `strategy`, a MultiWorkerMirroredStrategy."""
    tf_trainer._collective_all_reduce_multi_worker = _not_across_workers

    def first_local(value: Any) -> Any:
        return strategy.experimental_local_results(value)[0]

    def build_from_local_batch(iterator: Any = None, data_batch: Any = None) -> None:
        if iterator is not None and data_batch is None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(first_local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_local_batch

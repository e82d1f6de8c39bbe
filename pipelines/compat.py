"""Every use of a private Keras, TensorFlow or LiteRT API in the pipelines, in one place, each with the
upstream issue it works around. When an upgrade breaks one, this is the file to read; when the issue is
fixed upstream, the workaround goes.

- `build_before_tracing`: the optimizer's and metrics' variables before `fit` traces its step
  (tensorflow/tensorflow#48851, keras-team/keras#22618: a `tf.function` that creates variables in its
  first call is traced twice);
- `op_determinism`: TensorFlow's op determinism turned off as well as on (only `enable_op_determinism`
  is public, tensorflow/community#346; Keras reads the flag to refuse XLA, keras-team/keras#20315);
- `patch_keras_trainer_for_strategies`: Keras 3's TensorFlow trainer under tf.distribute strategies
  (keras-team/keras#20585);
- `tflite_op_names`: the operators of a TFLite model (no public way to list them,
  tensorflow/tensorflow#41263).

The floors below have one private use each; they cannot import this module, which is a floor above:
`layers/streaming.py` reads a layer's `_inbound_nodes` (a layer used twice cannot step), and
`tasks/assets.py` `keras_application` replaces `keras.src.utils.file_utils.get_file` for the length of a
keras.applications constructor, so ImageNet weights come through the project's download path with Keras's
own URL and hash (Keras has no public hook for where its weights come from).
"""

from __future__ import annotations


def build_before_tracing(net, element_spec) -> None:
    """Create the optimizer's and the compiled metrics' variables before `fit` traces its train step.

    Without a strategy, Keras's TensorFlow trainer defers them to the first traced step, and a
    `tf.function` that creates variables is traced twice: a second full trace of the step, about a
    quarter of a short run. Keras builds the same variables itself when a strategy is set; the values
    (zeros) and the random streams are the same either way, so the run's numbers do not change.
    """
    import keras

    if keras.backend.backend() != "tensorflow" or getattr(net, "_distribute_strategy", None) is not None:
        return  # the JAX trainer, and the TensorFlow one under a strategy, build these before the first step
    net._symbolic_build(data_batch=element_spec)  # shapes and dtypes are all it reads


def op_determinism(on: bool) -> None:
    """TensorFlow's op determinism on or off. The public API only turns it on (tensorflow/community#346);
    `disable_op_determinism` sits beside it in the same module, where Keras reads the flag
    (`is_op_determinism_enabled`) to decide whether XLA is allowed (keras-team/keras#20315)."""
    from tensorflow.python.framework import config as tf_config

    if on:
        tf_config.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()


def tflite_op_names(runner) -> list[str]:
    """The sorted operator names of a TFLite interpreter's model (`_get_ops_details`: there is no public
    way to list them, tensorflow/tensorflow#41263)."""
    return sorted({op["op_name"] for op in runner._get_ops_details()})


_PATCHED = False


def patch_keras_trainer_for_strategies() -> None:
    """Work around the two places Keras 3's TensorFlow trainer breaks under tf.distribute strategies
    (keras-team/keras#20585, still open; seen with Keras 3.15 and TensorFlow 2.21).

    1. `TensorFlowTrainer._maybe_symbolic_build` (run by `fit`, `evaluate` and `predict`) takes the first
       batch of the distributed dataset and calls `strategy.reduce("MEAN", batch, axis=None)` on the
       whole (inputs, targets) structure, only to learn its shapes. The multi-worker strategy's
       `reduce` cannot take a nested structure ("ValueError: Attempt to convert a value
       (PerReplica:{...}) with an unsupported type"), and MirroredStrategy fails whenever that batch
       does not split evenly across replicas ("Inputs to operation AddN ... must have the same size
       and shape. Input 0: [13,12,2] != input 1: [12,12,2]": 25 validation examples on 2 replicas).
       The fix hands it this worker's first local replica of the batch instead (shapes are all it needs).
    2. `reduce_per_replica` (how `fit` turns per-replica logs into one number) calls
       `strategy.reduce("MEAN", v, axis=0)` for every value under a multi-worker strategy, which fails
       for the scalar loss and metrics: "Invalid reduction dimension 0 for input with 0 dimensions".
       The fix reduces scalars with `axis=None` (the mean across replicas) and keeps axis 0 otherwise.

    Both are private Keras functions, replaced only in a process that asked for a strategy; the second
    replacement changes nothing outside multi-worker runs.
    """
    global _PATCHED
    if _PATCHED:
        return
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    symbolic_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build

    def local_values(strategy, structure):
        return tree.map_structure(
            lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
            structure,
        )

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None or iterator is None:
            return symbolic_build(self, iterator, data_batch)
        for _, _, it in iterator:
            return symbolic_build(self, None, local_values(self.distribute_strategy, next(it)))
        return symbolic_build(self, None, data_batch)

    reduce_per_replica = tf_trainer.reduce_per_replica

    def reduce_logs(values, strategy, reduction):
        if not (tf_trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean")):
            return reduce_per_replica(values, strategy, reduction)

        def one(v):
            if not isinstance(v, tf.distribute.DistributedValues):
                return v
            rank = strategy.experimental_local_results(v)[0].shape.rank
            return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)

        return tree.map_structure(one, values)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_logs
    _PATCHED = True

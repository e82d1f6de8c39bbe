"""Training on several devices or processes: `recurrent train ... --strategy default|mirrored|multiworker`.

- `default`: one device, as Keras places it.
- `mirrored`: `tf.distribute.MirroredStrategy`, one replica per GPU; on a machine without GPUs the CPU
  is split into `CPU_REPLICAS` logical devices, which runs the same multi-replica code path (useful to
  test it; not faster). `train.batch_size` stays the global batch, split evenly across replicas.
- `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured by the `TF_CONFIG` environment
  variable; every worker runs the same command, worker 0 (the chief) writes the run directory, the others
  keep their backups in `<run>/workers/<index>/` as Keras's fault-tolerance scheme expects.

The strategy is how a run is executed, not what it computes, so it is recorded in `environment.json`
and is not part of the config's hash; a run may resume under another strategy. TensorFlow only (under
JAX, Keras's own `keras.distribution` API is the way).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

from keras_recurrent.tasks import UserError

STRATEGIES = ("default", "mirrored", "multiworker")
CPU_REPLICAS = 2


@dataclass
class Distribution:
    """The chosen strategy (None for `default`), and this process's place among the workers."""

    name: str = "default"
    strategy: object = None
    worker_index: int = 0
    num_workers: int = 1
    replicas: int = 1
    devices: list = field(default_factory=list)

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def record(self) -> dict:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.num_workers,
                "worker_index": self.worker_index, "devices": self.devices}


def make(name: str | None) -> Distribution:
    """Create the strategy `name`; raise UserError for an unknown name or an unusable setting."""
    name = name or "default"
    if name not in STRATEGIES:
        raise UserError(f"--strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "default":
        return Distribution()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"--strategy {name} is TensorFlow's tf.distribute; under KERAS_BACKEND="
                        f"{keras.backend.backend()} use keras.distribution instead")
    if name == "mirrored":
        return _mirrored()
    return _multiworker()


def _split_cpu(count: int) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise UserError(
            "--strategy mirrored on a CPU-only machine splits the CPU into logical devices, which must happen "
            "before TensorFlow starts: choose the strategy before running any TensorFlow code in this process"
        ) from None


def _mirrored() -> Distribution:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        devices = [f"/gpu:{i}" for i in range(len(gpus))]
    else:
        _split_cpu(CPU_REPLICAS)
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    _patch_keras_trainer()
    return Distribution("mirrored", strategy, replicas=strategy.num_replicas_in_sync, devices=devices)


def _multiworker() -> Distribution:
    import tensorflow as tf

    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserError("--strategy multiworker needs TF_CONFIG (the cluster's workers and this worker's index)")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = int(config["task"]["index"])
        kind = config["task"]["type"]
    except (ValueError, KeyError, TypeError):
        raise UserError('TF_CONFIG: expected {"cluster": {"worker": [HOST:PORT, ...]}, "task": {"type": "worker", '
                        '"index": I}}') from None
    if kind != "worker" or not 0 <= index < len(workers):
        raise UserError(f"TF_CONFIG: task must be a worker with an index below {len(workers)}, got {kind} {index}")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _patch_keras_trainer()
    return Distribution("multiworker", strategy, worker_index=index, num_workers=len(workers),
                        replicas=strategy.num_replicas_in_sync, devices=list(workers))


_PATCHED = False


def _patch_keras_trainer() -> None:
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

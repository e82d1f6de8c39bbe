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

from keras_recurrent.pipelines import compat
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
    compat.patch_keras_trainer_for_strategies()
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
    compat.patch_keras_trainer_for_strategies()
    return Distribution("multiworker", strategy, worker_index=index, num_workers=len(workers),
                        replicas=strategy.num_replicas_in_sync, devices=list(workers))

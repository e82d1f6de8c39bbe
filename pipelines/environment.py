"""Seeding and the record of what a run ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import sys


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ chatter (oneDNN notices, CPU feature lines) off the terminal.

    Level 3 hides its INFO/WARNING/ERROR log lines; real failures still arrive as Python exceptions.
    Set TF_CPP_MIN_LOG_LEVEL yourself to see them.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("MPLBACKEND", "Agg")


@contextlib.contextmanager
def stderr_silenced():
    """Silence file descriptor 2 (C++ code writes there directly) for the duration of the block.

    Used around `import tensorflow` in the command line: absl prints a few lines before its log level
    is read, and a user's mistake must be reported as one line on stderr.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def seed_everything(seed: int, xla: bool = False) -> None:
    """Python, NumPy and TensorFlow seeds, and deterministic TensorFlow kernels.

    With op determinism on, the same seed and data give the same weights and metrics run after run.
    TensorFlow refuses XLA while op determinism is on, so a run with `train.xla` turns it off: XLA's CPU
    kernels give the same results run after run on their own (tested: same seed, same weights).
    """
    import keras

    keras.utils.set_random_seed(seed)
    deterministic_kernels(not xla)


def deterministic_kernels(on: bool) -> None:
    """TensorFlow's op determinism on or off (process-wide, so set by every run for itself)."""
    from keras_recurrent.pipelines import compat

    compat.op_determinism(on)


def environment_record(seed: int) -> dict:
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "command": sys.argv,
    }

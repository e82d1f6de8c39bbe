"""Optimizers whose gradient clipping measures each weight matrix by its spectral norm.

`train.clip=spectral` with `train.clipnorm=c`: the gradient of each weight matrix is scaled down to a
largest singular value of at most c; a stacked variable (..., rows, columns) is clipped matrix by matrix,
a vector by its Euclidean norm. This is the clipping of the end-to-end memory network authors' released
code (each weight matrix's gradient, measured by MATLAB's `norm`, at most 40 for a batch of 32 summed
losses: 1.25 on Keras's mean loss), which their SGD training needs: without it, or with the variable-wide
Euclidean `clipnorm`, the linear start diverges (see benchmarks/README.md, babi_quality).
"""

from __future__ import annotations

import keras
from keras import ops


def clip_spectral(gradient, limit: float):
    """`gradient` scaled so that each of its matrices (last two axes) has a spectral norm of at most `limit`."""
    if gradient is None:
        return None
    gradient = ops.convert_to_tensor(gradient)  # a gather's sparse gradient, made dense
    if len(gradient.shape) < 2:
        size = ops.sqrt(ops.sum(ops.square(gradient)))
        return gradient * ops.minimum(1.0, limit / ops.maximum(size, 1e-12))
    top = ops.svd(gradient, full_matrices=False, compute_uv=False)[..., 0]  # largest singular value a matrix
    scale = ops.minimum(1.0, limit / ops.maximum(top, 1e-12))
    return gradient * ops.expand_dims(ops.expand_dims(scale, -1), -1)


class _SpectralClip:
    """Mixin: `clipnorm` measured by the spectral norm of each matrix (see the module docstring)."""

    def __init__(self, *args, spectral_clipnorm: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.spectral_clipnorm = float(spectral_clipnorm)

    def _clip_gradients(self, grads):
        return [clip_spectral(g, self.spectral_clipnorm) for g in grads]

    def get_config(self):
        return {**super().get_config(), "spectral_clipnorm": self.spectral_clipnorm}


@keras.saving.register_keras_serializable(package="keras_recurrent")
class SpectralClipSGD(_SpectralClip, keras.optimizers.SGD):
    """Stochastic gradient descent with each matrix's gradient clipped by its spectral norm."""


@keras.saving.register_keras_serializable(package="keras_recurrent")
class SpectralClipAdam(_SpectralClip, keras.optimizers.Adam):
    """Adam with each matrix's gradient clipped by its spectral norm."""


SPECTRAL = {"sgd": SpectralClipSGD, "adam": SpectralClipAdam}

__all__ = ["SpectralClipAdam", "SpectralClipSGD", "clip_spectral"]

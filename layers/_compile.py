"""Compile a function of keras.ops for the active backend (XLA where the backend has it).

This is plumbing, not maths: the functions it wraps are written with keras.ops only. On TensorFlow it
marks the function for XLA (`tf.function(jit_compile=True)`), which fuses each step of an element-wise
loop into one native loop body; on JAX everything is already traced and compiled, so `jax.jit` only
adds a cache; on other backends the function runs as written.
"""

from __future__ import annotations

import functools

import keras


@functools.cache
def _tensorflow_compile(fn):
    import tensorflow as tf

    return tf.function(fn, jit_compile=True, autograph=False)


def compiled(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_compile(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn

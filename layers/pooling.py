"""Masked max-pooling over time.

`keras.layers.GlobalMaxPooling1D` ignores the padding mask, so padded steps can win the maximum. Max
over the states of a bidirectional encoder is the sentence encoder of Conneau et al. ("Supervised
Learning of Universal Sentence Representations from Natural Language Inference Data", EMNLP 2017,
BiLSTM-max); it needs the mask honoured.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Maximum over the time axis of (batch, time, features), skipping masked steps.

    Call arguments:
        inputs: (batch, time, features).
        mask: optional (batch, time) booleans; a sequence with no unmasked step pools to zeros.

    Returns:
        (batch, features).

    Example:

    >>> MaskedGlobalMaxPooling1D()(np.ones((2, 5, 3)), mask=np.array([[1, 1, 0, 0, 0]] * 2, bool)).shape
    (2, 3)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        # Shift masked steps below the smallest unmasked value rather than to a dtype-specific minimum.
        floor = ops.min(inputs) - 1.0
        pooled = ops.max(ops.where(keep, inputs, floor), axis=1)
        any_step = ops.any(keep, axis=1)
        return ops.where(any_step, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

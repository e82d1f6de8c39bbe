"""Additive attention scores (Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to
Align and Translate", ICLR 2015), in the form the pointer network uses (Vinyals, Fortunato & Jaitly,
"Pointer Networks", NeurIPS 2015, eq. 3):

    u_ij = v^T tanh(W1 e_j + W2 d_i)

e_j is the key at position j (an encoder state), d_i the query of step i (a decoder state); W1, W2 and v
are learned. `AdditiveScore` computes the scores alone: a pointer network's output is their softmax over j
(`pointer.py`). `AdditiveAttention` completes them into an attention decoder's context, the soft attention
of Xu et al. ("Show, Attend and Tell", ICML 2015, eq. 4-6; there e_j is an image region's feature vector):

    alpha_ij = exp(u_ij) / sum_k exp(u_ik)        (over the unmasked positions k)
    z_i      = sum_j alpha_ij e_j
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_recurrent")
class AdditiveScore(keras.layers.Layer):
    """Unnormalised additive attention scores u_ij = v^T tanh(W1 e_j + W2 d_i).

    Args:
        units: width of the hidden layer inside the score (the rows of W1 and W2, the length of v).
        kernel_initializer: initializer of W1 and W2.
        score_initializer: initializer of v.

    Call arguments:
        inputs: `[keys, queries]`: keys (batch, positions, key_features); queries (batch, steps,
            query_features), or (batch, query_features) for a single query.

    Returns:
        (batch, steps, positions) scores, or (batch, positions) for a single query. Masks are not applied
        here: a padded key still gets a score, and the caller decides what to exclude.

    Example:

    >>> scores = AdditiveScore(16)([np.ones((2, 7, 32)), np.ones((2, 3, 24))])
    >>> tuple(scores.shape)
    (2, 3, 7)
    """

    def __init__(self, units: int, kernel_initializer="glorot_uniform", score_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"units must be positive, got {units}")
        self.units = int(units)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.score_initializer = keras.initializers.get(score_initializer)

    def build(self, input_shape):
        keys_shape, queries_shape = input_shape
        self.key_kernel = self.add_weight(name="key_kernel", shape=(keys_shape[-1], self.units),
                                          initializer=self.kernel_initializer)
        self.query_kernel = self.add_weight(name="query_kernel", shape=(queries_shape[-1], self.units),
                                            initializer=self.kernel_initializer)
        self.score_vector = self.add_weight(name="score_vector", shape=(self.units,), initializer=self.score_initializer)

    def call(self, inputs):
        keys, queries = inputs
        single = len(queries.shape) == 2
        if single:
            queries = ops.expand_dims(queries, 1)
        projected_keys = ops.matmul(keys, self.key_kernel)          # (batch, positions, units): once per sequence
        projected_queries = ops.matmul(queries, self.query_kernel)  # (batch, steps, units)
        hidden = ops.tanh(ops.expand_dims(projected_queries, 2) + ops.expand_dims(projected_keys, 1))
        scores = ops.sum(hidden * self.score_vector, axis=-1)       # (batch, steps, positions)
        return scores[:, 0] if single else scores

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        keys_shape, queries_shape = input_shape
        if len(queries_shape) == 2:
            return (keys_shape[0], keys_shape[1])
        return (keys_shape[0], queries_shape[1], keys_shape[1])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "score_initializer": keras.initializers.serialize(self.score_initializer),
        }


_EXCLUDED = -1e9  # the score of a masked key: exp() of it is 0 in float32, without the NaN of -inf - -inf


@keras.saving.register_keras_serializable(package="keras_recurrent")
class AdditiveAttention(keras.layers.Layer):
    """Soft additive attention: for each query d_i, weights alpha_ij = softmax_j(v^T tanh(W1 e_j + W2 d_i))
    over the keys e_j and the context z_i = sum_j alpha_ij e_j.

    Unlike `keras.layers.AdditiveAttention` (which adds query and key directly, so both need the same
    width), keys and queries are projected first (W1, W2), as in Bahdanau et al. and Xu et al.: an
    encoder and a decoder of any widths.

    Args:
        units: width of the additive score's hidden layer.
        kernel_initializer, score_initializer: as in `AdditiveScore`.

    Call arguments:
        inputs: `[keys, queries]`: keys (batch, positions, key_features); queries (batch, steps,
            query_features).
        mask: Keras's masks; the keys' mask (batch, positions), True for real positions, gives padded
            keys weight zero.

    Returns:
        `[context, weights]`: context (batch, steps, key_features), weights (batch, steps, positions),
        each row a distribution over the keys.

    Example:

    >>> context, weights = AdditiveAttention(16)([np.ones((2, 64, 32)), np.ones((2, 5, 24))])
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 5, 32), (2, 5, 64))
    """

    def __init__(self, units: int, kernel_initializer="glorot_uniform", score_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.score = AdditiveScore(units, kernel_initializer, score_initializer, name="score")
        self.supports_masking = True

    def build(self, input_shape):
        self.score.build(input_shape)

    def call(self, inputs, mask=None):
        keys, queries = inputs
        scores = self.score([keys, queries])  # (batch, steps, positions)
        key_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        if key_mask is not None:
            scores = ops.where(ops.expand_dims(ops.cast(key_mask, "bool"), 1), scores, ops.full_like(scores, _EXCLUDED))
        weights = ops.softmax(scores, axis=-1)
        return [ops.matmul(weights, keys), weights]

    def compute_mask(self, inputs, mask=None):
        query_mask = mask[1] if isinstance(mask, (list, tuple)) else None
        return [query_mask, query_mask]

    def compute_output_shape(self, input_shape):
        keys_shape, queries_shape = input_shape
        return [(keys_shape[0], queries_shape[1], keys_shape[2]), (keys_shape[0], queries_shape[1], keys_shape[1])]

    def get_config(self):
        score = self.score.get_config()
        return {**super().get_config(), "units": score["units"], "kernel_initializer": score["kernel_initializer"],
                "score_initializer": score["score_initializer"]}


__all__ = ["AdditiveAttention", "AdditiveScore"]

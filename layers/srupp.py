"""SRU++ (Tao Lei, "When Attention Meets Fast Recurrence: Training Language Models with Reduced
Compute", EMNLP 2021).

SRU's input projection U = X W is replaced by an attention sub-layer; the element-wise recurrence that
follows is SRU's (`layers.sru.elementwise_recurrence`). In words, for a sequence X (time x d):

    queries    Q = X W_q                  (d -> d', the attention size, usually much smaller than d)
    keys       K = Q W_k,  values V = Q W_v   (computed from Q, so W_k and W_v are small d' x d')
    attention  A = softmax(Q K^T / sqrt(d')) V     (single head; causal for language modelling)
    residual   Z = LayerNorm(Q + alpha * A)         (alpha a learned scalar, initialised at 0)
    transform  U = Z W_o                   (d' -> 3 * units: candidate, forget and reset inputs)

With alpha = 0 at the start, U = X W_q W_o: SRU with a low-rank projection, so early training leans
on the recurrence and attention is brought in as alpha grows. The layer norm is applied after the
residual and before W_o (post-norm), as the paper does.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_recurrent.layers.sru import _SRUBase, project


@keras.saving.register_keras_serializable(package="keras_recurrent")
class SRUpp(_SRUBase):
    """SRU++ layer: self-attention computes the inputs of a fast element-wise recurrence (Lei, 2021).

    Args:
        units: width of the state and output.
        attention_dim: d', the query / key / value width; default units // 4 (the paper uses d/4 to d/2).
        causal: attend only to earlier and current steps (language modelling); False for classification.
        highway_bias, dropout, seed, return_sequences, return_state, go_backwards: as for `SRU`.
        kernel_initializer: for W_q, W_k, W_v and W_o.

    Call arguments:
        inputs: (batch, time, features).
        mask: (batch, time) booleans; masked steps are neither attended to nor change the state.
        training: whether dropout is active.

    Returns:
        The output sequence or the last output, and the final state if `return_state`.

    Example:

    >>> SRUpp(64, causal=True, return_sequences=True)(np.zeros((2, 10, 64))).shape
    (2, 10, 64)
    """

    def __init__(self, units, attention_dim=None, causal=False, highway_bias=0.0, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(units, highway_bias=highway_bias, **kwargs)
        if attention_dim is not None and int(attention_dim) <= 0:
            raise ValueError(f"attention_dim must be positive or None, got {attention_dim}")
        self.attention_dim = int(attention_dim or max(1, units // 4))
        self.causal = bool(causal)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy, name="attention_norm")

    def build(self, input_shape):
        input_dim, d = input_shape[-1], self.attention_dim

        def weight(shape, name):
            return self.add_weight(shape=shape, initializer=self.kernel_initializer, name=name)

        self.query_kernel = weight((input_dim, d), "query_kernel")
        self.key_kernel = weight((d, d), "key_kernel")
        self.value_kernel = weight((d, d), "value_kernel")
        self.output_kernel = weight((d, 3 * self.units), "output_kernel")
        self.residual_scale = self.add_weight(shape=(), initializer="zeros", name="residual_scale")
        self.layer_norm.build((None, None, d))
        self.build_gates(input_dim)

    def attention_mask(self, inputs, mask):
        """(batch or 1, time, time) booleans: may query t attend to key s?"""
        allowed = None
        if self.causal:
            time = ops.shape(inputs)[1]
            steps = ops.arange(time)
            allowed = ops.expand_dims(ops.expand_dims(steps, 1) >= ops.expand_dims(steps, 0), 0)
        if mask is not None:
            keys = ops.expand_dims(ops.cast(mask, "bool"), 1)
            allowed = keys if allowed is None else ops.logical_and(allowed, keys)
        return allowed

    def transform(self, inputs, inputs_time_major, mask):
        q = ops.matmul(inputs, self.query_kernel)
        k = ops.matmul(q, self.key_kernel)
        v = ops.matmul(q, self.value_kernel)
        scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / ops.sqrt(ops.cast(self.attention_dim, q.dtype))
        allowed = self.attention_mask(inputs, mask)
        if allowed is not None:
            # A large negative rather than -inf: a query with no allowed key (a padded step) then gets
            # uniform weights instead of NaN, and its result is discarded by the recurrence's mask.
            scores = ops.where(allowed, scores, ops.cast(-1e9, scores.dtype))
        attended = ops.matmul(ops.softmax(scores, axis=-1), v)
        z = self.layer_norm(q + self.residual_scale * attended)
        # Transpose the narrow (d') tensor to time-major, not the 3 * units wide result.
        return project(ops.transpose(z, (1, 0, 2)), self.output_kernel)

    # -- streaming ----------------------------------------------------------------------------------
    # The state is SRU's c plus a cache of the last `context` keys and values (oldest first) and how
    # many of its slots are filled. While a sequence is no longer than `context` each step attends to
    # exactly the keys `call` lets it see; past that, to the latest `context` (a sliding window).
    def step_state_shapes(self, context: int) -> list[tuple]:
        self._check_streamable()
        d = self.attention_dim
        return [(self.units,), (context, d), (context, d), (1,)]

    def _check_streamable(self):
        super()._check_streamable()
        if not self.causal:
            raise ValueError(f"{self.name}: only a causal SRUpp can run one step at a time (it attends to later steps)")

    def transform_step(self, x_t, extra_states):
        keys, values, filled = extra_states
        q = ops.matmul(x_t, self.query_kernel)
        keys = ops.concatenate([keys[:, 1:], ops.expand_dims(ops.matmul(q, self.key_kernel), 1)], axis=1)
        values = ops.concatenate([values[:, 1:], ops.expand_dims(ops.matmul(q, self.value_kernel), 1)], axis=1)
        context = ops.shape(keys)[1]
        filled = ops.minimum(filled + 1.0, ops.cast(context, filled.dtype))
        # Slot j holds a real key once j >= context - filled (the cache fills from the right).
        slots = ops.cast(ops.expand_dims(ops.arange(context), 0), filled.dtype)
        allowed = slots >= ops.cast(context, filled.dtype) - filled
        scores = ops.sum(ops.expand_dims(q, 1) * keys, axis=-1) / ops.sqrt(ops.cast(self.attention_dim, q.dtype))
        scores = ops.where(allowed, scores, ops.cast(-1e9, scores.dtype))
        attended = ops.sum(ops.expand_dims(ops.softmax(scores, axis=-1), -1) * values, axis=1)
        z = self.layer_norm(q + self.residual_scale * attended)
        return ops.matmul(z, self.output_kernel), [keys, values, filled]

    def get_config(self):
        config = super().get_config()
        config.update(
            attention_dim=self.attention_dim, causal=self.causal,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config

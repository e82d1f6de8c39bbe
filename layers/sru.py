"""Simple Recurrent Unit (Lei, Zhang, Wang, Dai & Artzi, "Simple Recurrent Units for Highly
Parallelizable Recurrence", EMNLP 2018).

All the matrix work happens once for the whole sequence; the step that must run in order is light and
element-wise. In words, with U = X W computed for every step at once:

    forget gate     f_t = sigmoid(U_f[t] + v_f * c_{t-1} + b_f)
    reset gate      r_t = sigmoid(U_r[t] + v_r * c_{t-1} + b_r)
    state           c_t = f_t * c_{t-1} + (1 - f_t) * U_c[t]
    output          h_t = r_t * c_t + (1 - r_t) * alpha * x'_t       (highway connection)

v_f and v_r are vectors (no matrix touches c_{t-1}), so each state dimension runs its own recurrence.
The highway input x'_t is x_t itself when input and hidden widths agree, else a projection of it taken in
the same matrix product. alpha = sqrt(1 + 2 exp(b)), with b the reset bias at initialisation, is the
paper's scaling that keeps the output variance near 1 at the start of training.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def elementwise_recurrence(candidate, forget_in, reset_in, highway, v_f, v_r, b_f, b_r, alpha,
                           mask=None, initial_c=None):
    """The SRU recurrence over time, shared by `SRU` and `SRUpp`.

    Args:
        candidate, forget_in, reset_in, highway: (batch, time, units): U_c, U_f, U_r and x'.
        v_f, v_r, b_f, b_r: (units,) weights of the gates.
        alpha: the highway scale (a Python float).
        mask: optional (batch, time) booleans; at a masked step state and output stay as they were.
        initial_c: optional (batch, units) initial state; zeros by default.

    Returns:
        (outputs (batch, time, units), last output (batch, units), last state (batch, units)).
    """
    batch = ops.shape(candidate)[0]
    units = ops.shape(candidate)[-1]
    c0 = ops.zeros((batch, units), dtype=candidate.dtype) if initial_c is None else initial_c
    h0 = ops.zeros((batch, units), dtype=candidate.dtype)
    time_major = [ops.moveaxis(t, 1, 0) for t in (candidate, forget_in, reset_in, highway)]
    if mask is not None:
        time_major.append(ops.expand_dims(ops.moveaxis(ops.cast(mask, "bool"), 1, 0), -1))

    def step(carry, inputs):
        c_prev, h_prev = carry
        u_c, u_f, u_r, x_hw = inputs[:4]
        f = ops.sigmoid(u_f + v_f * c_prev + b_f)
        r = ops.sigmoid(u_r + v_r * c_prev + b_r)
        c = f * c_prev + (1.0 - f) * u_c
        h = r * c + (1.0 - r) * (alpha * x_hw)
        if mask is not None:
            keep = inputs[4]
            c = ops.where(keep, c, c_prev)
            h = ops.where(keep, h, h_prev)
        # Keras's TensorFlow scan wants the per-step output to mirror the carry's structure.
        return (c, h), (c, h)

    (c_last, h_last), (_, outputs) = ops.scan(step, (c0, h0), tuple(time_major))
    return ops.moveaxis(outputs, 0, 1), h_last, c_last


class _SRUBase(keras.layers.Layer):
    """What SRU and SRU++ share: gate vectors, highway scale, sequence flags, masking and dropout.

    Subclasses build their own input transform and implement `transform(x, mask, training) -> U`
    with U of shape (batch, time, 3 * units): candidate, forget and reset inputs in that order.
    """

    def __init__(self, units, highway_bias=0.0, dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, **kwargs):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be positive, got {units}")
        if stateful:
            raise ValueError(f"{type(self).__name__} does not support stateful=True")
        self.units = units
        self.highway_bias = float(highway_bias)
        self.alpha = math.sqrt(1.0 + 2.0 * math.exp(self.highway_bias))
        self.dropout = float(dropout)
        self.seed = seed
        self.dropout_seed = keras.random.SeedGenerator(seed)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = False
        self.supports_masking = True

    def build_gates(self, input_dim):
        self.v_f = self.add_weight(shape=(self.units,), initializer="zeros", name="v_forget")
        self.v_r = self.add_weight(shape=(self.units,), initializer="zeros", name="v_reset")
        self.b_f = self.add_weight(shape=(self.units,), initializer="zeros", name="b_forget")
        self.b_r = self.add_weight(
            shape=(self.units,), initializer=keras.initializers.Constant(self.highway_bias), name="b_reset"
        )
        self.highway_kernel = None
        if input_dim != self.units:
            self.highway_kernel = self.add_weight(
                shape=(input_dim, self.units), initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "uniform"),
                name="highway_kernel",
            )

    def call(self, inputs, mask=None, training=False, initial_state=None):
        if self.go_backwards:
            inputs = ops.flip(inputs, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if training and self.dropout > 0:
            batch, _, features = ops.shape(inputs)
            inputs = keras.random.dropout(inputs, self.dropout, noise_shape=(batch, 1, features), seed=self.dropout_seed)
        u = self.transform(inputs, mask, training)
        candidate, forget_in, reset_in = ops.split(u, 3, axis=-1)
        highway = inputs if self.highway_kernel is None else ops.matmul(inputs, self.highway_kernel)
        initial_c = None
        if initial_state is not None:
            initial_c = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        outputs, h_last, c_last = elementwise_recurrence(
            candidate, forget_in, reset_in, highway, self.v_f, self.v_r, self.b_f, self.b_r, self.alpha,
            mask=mask, initial_c=initial_c,
        )
        result = outputs if self.return_sequences else h_last
        return [result, c_last] if self.return_state else result

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences or mask is None:
            return [None, None] if self.return_state else None
        mask = ops.flip(mask, axis=1) if self.go_backwards else mask
        return [mask, None] if self.return_state else mask

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        out = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        return [out, (batch, self.units)] if self.return_state else out

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, highway_bias=self.highway_bias, dropout=self.dropout, seed=self.seed,
            return_sequences=self.return_sequences, return_state=self.return_state, go_backwards=self.go_backwards,
        )
        return config


@keras.saving.register_keras_serializable(package="recurrent")
class SRU(_SRUBase):
    """Simple Recurrent Unit layer (Lei et al., EMNLP 2018).

    Args:
        units: width of the state and output.
        highway_bias: initial reset-gate bias b; sets the highway scale alpha = sqrt(1 + 2 exp(b)).
        kernel_initializer: for W (all steps' candidate, forget and reset inputs in one product).
        dropout: input dropout, one mask per sequence shared by all steps.
        seed: seed of the dropout mask.
        return_sequences: return every step's output (batch, time, units); else the last output.
        return_state: also return the final state c (batch, units).
        go_backwards: read the sequence in reverse (returns outputs in the reversed order, like Keras RNNs).

    Call arguments:
        inputs: (batch, time, features).
        mask: (batch, time) booleans; masked steps leave state and output unchanged.
        training: whether dropout is active.
        initial_state: optional initial c, (batch, units) or a one-element list.

    Returns:
        The output sequence or the last output, and the final state if `return_state`.

    Example:

    >>> SRU(64, return_sequences=True)(np.zeros((2, 10, 32))).shape
    (2, 10, 64)
    """

    def __init__(self, units, highway_bias=0.0, kernel_initializer=None, **kwargs):
        super().__init__(units, highway_bias=highway_bias, **kwargs)
        # Variance 1/d uniform initialisation, as the paper recommends for deep SRU stacks.
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")
        )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_dim, 3 * self.units), initializer=self.kernel_initializer, name="kernel")
        self.build_gates(input_dim)

    def transform(self, inputs, mask, training):
        return ops.matmul(inputs, self.kernel)

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config

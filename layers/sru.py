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

from keras_recurrent.layers._compile import compiled


def project(x, kernel):
    """x (..., features) @ kernel as one 2-D matrix product over all steps and examples."""
    shape = ops.shape(x)
    flat = ops.matmul(ops.reshape(x, (-1, shape[-1])), kernel)
    return ops.reshape(flat, (*shape[:-1], ops.shape(kernel)[-1]))


def _sru_step(c_prev, u_t, x_t, m_t, v_f, v_r, b_f, b_r, alpha, units):
    """One SRU step on (batch, ...) slices: returns (c_t, h_t, forget gate before masking, reset gate)."""
    candidate, forget_in, reset_in = u_t[:, :units], u_t[:, units:2 * units], u_t[:, 2 * units:]
    f_sig = ops.sigmoid(forget_in + v_f * c_prev + b_f)
    f = m_t * f_sig + (1.0 - m_t)
    c = candidate + f * (c_prev - candidate)
    r = ops.sigmoid(reset_in + v_r * c_prev + b_r)
    s = alpha * x_t
    return c, m_t * (s + r * (c - s)), f_sig, r


def _sru_forward(u, x_highway, m, v_f, v_r, b_f, b_r, alpha, c0):
    """Every step of SRU, time-major: returns (outputs H, states C, forget gates, reset gates).

    u is (time, batch, 3 * units) holding the candidate, forget and reset inputs side by side; slicing
    them per step (rather than splitting u up front) saves a copy of u. m is (time, batch, 1): 1 for a
    real step, 0 for a masked one, where f = 1 keeps c and the output is 0. The gates are kept for the
    backward pass.
    """
    units = ops.shape(c0)[-1]

    def step(carry, p_t):
        kept = _sru_step(carry[0], *_unpack(p_t, units), v_f, v_r, b_f, b_r, alpha, units)
        # Keras's TensorFlow scan wants the per-step output to mirror the carry's structure.
        return kept, kept

    zeros = ops.zeros_like(c0)
    _, (states, outputs, forget_gates, reset_gates) = ops.scan(step, (c0, zeros, zeros, zeros),
                                                               _pack(u, x_highway, m))
    return outputs, states, forget_gates, reset_gates


def _pack(u, x_highway, m):
    # Keras's TensorFlow `scan` cannot trace several sequences whose length is unknown until run time (it
    # compares their static lengths and fails on None), which is what a graph for any sequence length
    # needs (a SavedModel export, which also traces the gradient): then the three go packed into one.
    # With a known length they stay separate: packing copies every step's inputs once more, which cost
    # training 1.7x (SRU step 39 -> 67 ms in benchmarks/recurrent_speed).
    if u.shape[0] is not None:
        return (u, x_highway, m)
    return ops.concatenate([u, x_highway, m], axis=-1)


def _unpack(p_t, units):
    if isinstance(p_t, (tuple, list)):
        return tuple(p_t)
    return p_t[:, :3 * units], p_t[:, 3 * units:4 * units], p_t[:, 4 * units:]


def _sru_forward_lean(u, x_highway, m, v_f, v_r, b_f, b_r, alpha, c0):
    """`_sru_forward` without keeping the gates: what inference needs, half the writes."""
    units = ops.shape(c0)[-1]

    def step(carry, p_t):
        c, h, _, _ = _sru_step(carry[0], *_unpack(p_t, units), v_f, v_r, b_f, b_r, alpha, units)
        return (c, h), (c, h)

    _, (states, outputs) = ops.scan(step, (c0, ops.zeros_like(c0)), _pack(u, x_highway, m))
    return outputs, states


def _sru_backward(d_outputs, d_states, states, forget_gates, reset_gates, u, x_highway, m, v_f, v_r, b_f, b_r,
                  alpha, c0):
    """Hand-written gradient of `_sru_forward`: one reverse loop of element-wise work.

    At step t (s = alpha x'_t, a_f and a_r the gate pre-activations, g the total gradient reaching c_t):
        d a_r = dh (c_t - s) r (1 - r);   d x'_t = alpha dh (1 - r)
        g = dC_t + g_{t+1} + dh r;        d u_c = g (1 - f)
        d a_f = g (c_{t-1} - u_c) m f~ (1 - f~)   (f~ = sigmoid(a_f), f = m f~ + 1 - m)
        g_t-1 = g f + d a_f v_f + d a_r v_r
    and v_f, v_r, b_f, b_r collect d a_f c_{t-1}, d a_r c_{t-1}, d a_f, d a_r. The gates come stored from
    the forward pass (recomputing their sigmoids was most of this loop's time). Outputs are written in
    place (dynamic-update-slice under XLA).
    """
    time, units = ops.shape(u)[0], ops.shape(c0)[-1]
    zeros = ops.zeros_like(c0)

    def body(i, state):
        g_next, acc_vf, acc_vr, acc_bf, acc_br, d_u, d_x = state
        t = time - 1 - i

        def at(sequence, index=t):
            return ops.take(sequence, index, axis=0)

        u_t, x_t, m_t, c_t = at(u), at(x_highway), at(m), at(states)
        c_prev = ops.where(t > 0, at(states, ops.maximum(t - 1, 0)), c0)
        candidate = u_t[:, :units]
        f_sig, r = at(forget_gates), at(reset_gates)
        f = m_t * f_sig + (1.0 - m_t)
        s = alpha * x_t
        dh = m_t * at(d_outputs)
        d_reset = dh * (c_t - s) * r * (1.0 - r)
        d_highway = alpha * dh * (1.0 - r)
        g = at(d_states) + g_next + dh * r
        d_candidate = g * (1.0 - f)
        d_forget = g * (c_prev - candidate) * m_t * f_sig * (1.0 - f_sig)
        g_prev = g * f + d_forget * v_f + d_reset * v_r
        d_u_t = ops.concatenate([d_candidate, d_forget, d_reset], axis=-1)
        d_u = ops.slice_update(d_u, (t, 0, 0), ops.expand_dims(d_u_t, 0))
        d_x = ops.slice_update(d_x, (t, 0, 0), ops.expand_dims(d_highway, 0))
        return (g_prev, acc_vf + d_forget * c_prev, acc_vr + d_reset * c_prev, acc_bf + d_forget, acc_br + d_reset,
                d_u, d_x)

    init = (zeros, zeros, zeros, zeros, zeros, ops.zeros_like(u), ops.zeros_like(x_highway))
    d_c0, acc_vf, acc_vr, acc_bf, acc_br, d_u, d_x = ops.fori_loop(0, time, body, init)
    total = lambda acc: ops.sum(acc, axis=0)  # noqa: E731
    return (d_u, d_x, ops.zeros_like(m), total(acc_vf), total(acc_vr), total(acc_bf), total(acc_br),
            ops.zeros_like(alpha), d_c0)


def _make_sru_core(for_training: bool):
    @ops.custom_gradient
    def sru_core(u, x_highway, m, v_f, v_r, b_f, b_r, alpha, c0):
        """(outputs, states) of SRU, time-major, with a hand-written, compiled backward pass."""
        # stop_gradient: the gradient is `grad` below; no tape may try to differentiate the loops.
        inputs = [ops.stop_gradient(t) for t in (u, x_highway, m, v_f, v_r, b_f, b_r, alpha, c0)]
        if for_training:
            outputs, states, *gates = compiled(_sru_forward)(*inputs)
        else:
            outputs, states = _sru_forward_lean(*inputs)
            gates = None

        def grad(*args, upstream=None):
            # TensorFlow passes one cotangent per output; JAX passes the (outputs, states) pair as one.
            if upstream is None:
                upstream = args[0] if len(args) == 1 else args
            d_outputs, d_states = (ops.stop_gradient(t) for t in upstream)
            # Differentiating an inference call (rare) recomputes the gates the lean loop did not keep.
            forget_gates, reset_gates = gates or compiled(_sru_forward)(*inputs)[2:]
            return compiled(_sru_backward)(d_outputs, d_states, states, forget_gates, reset_gates, *inputs)

        return (outputs, states), grad

    return sru_core


# Training runs a compiled forward loop that keeps the gates for the backward pass (about 8 ms of 53 per
# step at batch 32, length 256, width 256 come from compiling it). Inference runs a lean loop as written:
# a compiled loop is rebuilt for every new sequence length (text sampling grows the sequence one step at
# a time), and inference needs no gates.
sru_core_for_training = _make_sru_core(for_training=True)
sru_core_for_inference = _make_sru_core(for_training=False)


def elementwise_recurrence(u, highway, v_f, v_r, b_f, b_r, alpha, mask=None, initial_c=None,
                           implementation="fused", training=False):
    """The SRU recurrence over time, shared by `SRU` and `SRUpp`. Everything is time-major.

    Args:
        u: (time, batch, 3 * units): the candidate, forget and reset inputs U_c, U_f, U_r side by side.
        highway: (time, batch, units): x', the highway input.
        v_f, v_r, b_f, b_r: (units,) weights of the gates.
        alpha: the highway scale (a Python float).
        mask: optional (time, batch) booleans; a masked step leaves the state unchanged and outputs zeros;
            the last output is the output of the last unmasked step.
        initial_c: optional (batch, units) initial state; zeros by default.
        implementation: "fused" (default): the whole recurrence in one loop with a hand-written
            gradient, compiled (XLA) where the backend can; "scan": the same loop (`_sru_forward_lean`)
            differentiated automatically (the straightforward version, kept for comparison).
        training: whether this is a training step (compiles the forward loop too).

    Returns:
        (outputs (time, batch, units), last output (batch, units), last state (batch, units)).
    """
    time, batch, units = ops.shape(highway)
    c0 = ops.zeros((batch, units), dtype=u.dtype) if initial_c is None else ops.cast(initial_c, u.dtype)
    if mask is None:
        m = ops.ones((time, batch, 1), dtype=u.dtype)
    else:
        m = ops.expand_dims(ops.cast(mask, u.dtype), -1)
    # `* 1.0` turns variables into tensors, so the custom gradient sees no variable read inside it.
    weights = (v_f * 1.0, v_r * 1.0, b_f * 1.0, b_r * 1.0, ops.convert_to_tensor(alpha, dtype=u.dtype))
    if implementation == "scan":
        outputs, states = _sru_forward_lean(u, highway, m, *weights, c0)
    else:
        core = sru_core_for_training if training else sru_core_for_inference
        outputs, states = core(u, highway, m, *weights, c0)
    c_last = states[-1]
    if mask is None:
        return outputs, outputs[-1], c_last
    # The output of the last unmasked step: index of the last True (0 if none, whose output is then 0).
    steps = ops.expand_dims(ops.arange(ops.shape(mask)[0]), 1)
    last_index = ops.max(ops.where(ops.cast(mask, "bool"), steps, 0), axis=0)
    last = ops.take_along_axis(outputs, ops.reshape(last_index, (1, -1, 1)), axis=0)[0]
    return outputs, last, c_last


class _SRUBase(keras.layers.Layer):
    """What SRU and SRU++ share: gate vectors, highway scale, sequence flags, masking and dropout.

    Subclasses build their own input transform and implement
    `transform(inputs, inputs_time_major, mask) -> U`, U time-major (time, batch, 3 * units): candidate,
    forget and reset inputs in that order. The layer works time-major inside: the input is transposed
    once and the output once, and the recurrence reads contiguous (batch, units) slices.
    """

    def __init__(self, units, highway_bias=0.0, dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, implementation="fused", **kwargs):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be positive, got {units}")
        if stateful:
            raise ValueError(f"{type(self).__name__} does not support stateful=True")
        self.units = units
        self.highway_bias = float(highway_bias)
        self.alpha = math.sqrt(1.0 + 2.0 * math.exp(self.highway_bias))
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.seed = seed
        self.dropout_seed = keras.random.SeedGenerator(seed)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = False
        self.supports_masking = True
        if implementation not in ("fused", "scan"):
            raise ValueError(f"implementation must be 'fused' or 'scan', got {implementation!r}")
        self.implementation = implementation

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
        inputs_tm = ops.transpose(inputs, (1, 0, 2))
        mask_tm = None if mask is None else ops.transpose(mask, (1, 0))
        u = self.transform(inputs, inputs_tm, mask)
        highway = inputs_tm if self.highway_kernel is None else project(inputs_tm, self.highway_kernel)
        initial_c = None
        if initial_state is not None:
            initial_c = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        outputs, h_last, c_last = elementwise_recurrence(
            u, highway, self.v_f, self.v_r, self.b_f, self.b_r, self.alpha,
            mask=mask_tm, initial_c=initial_c, implementation=self.implementation, training=bool(training),
        )
        result = ops.transpose(outputs, (1, 0, 2)) if self.return_sequences else h_last
        return [result, c_last] if self.return_state else result

    # -- streaming: one step at a time, the state carried by the caller ------------------------------
    def step_state_shapes(self, context: int) -> list[tuple]:
        """Shapes (without batch) of the state `step` carries; `context` bounds any attention window."""
        self._check_streamable()
        return [(self.units,)]

    def step(self, x_t, states):
        """One time step at inference: x_t (batch, features), states as `step_state_shapes` says.

        Returns (h_t, new_states). Stepping a sequence from zero states gives the outputs of `call`.
        """
        self._check_streamable()
        c_prev = states[0]
        u_t, extra = self.transform_step(x_t, states[1:])
        highway = x_t if self.highway_kernel is None else ops.matmul(x_t, self.highway_kernel)
        ones = ops.ones_like(c_prev[:, :1])
        c, h, _, _ = _sru_step(c_prev, u_t, highway, ones, self.v_f, self.v_r, self.b_f, self.b_r, self.alpha, self.units)
        return h, [c, *extra]

    def _check_streamable(self):
        if self.go_backwards:
            raise ValueError(f"{self.name}: a layer that reads its sequence backwards cannot run one step at a time")

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
            implementation=self.implementation,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_recurrent")
class SRU(_SRUBase):
    """Simple Recurrent Unit layer (Lei et al., EMNLP 2018).

    Args:
        units: width of the state and output.
        highway_bias: initial reset-gate bias b; sets the highway scale alpha = sqrt(1 + 2 exp(b)).
        kernel_initializer: for W (all steps' candidate, forget and reset inputs in one product).
        dropout: input dropout, one mask per sequence shared by all steps.
        seed: seed of the dropout mask.
        return_sequences: return every step's output (batch, time, units), zeros at masked steps; else the
            output of the last unmasked step.
        return_state: also return the final state c (batch, units).
        go_backwards: read the sequence in reverse (returns outputs in the reversed order, like Keras RNNs).
        implementation: "fused" (hand-written gradient, compiled loop) or "scan" (plain, for comparison).

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

    def transform(self, inputs, inputs_time_major, mask):
        return project(inputs_time_major, self.kernel)

    def transform_step(self, x_t, extra_states):
        """`transform` for one step: (U_t, the state beyond c, advanced); SRU carries nothing more."""
        return ops.matmul(x_t, self.kernel), []

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config

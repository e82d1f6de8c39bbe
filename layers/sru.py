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

from layers._compile import compiled


def project(x, kernel):
    """x (..., features) @ kernel as one 2-D matrix product over all steps and examples."""
    shape = ops.shape(x)
    flat = ops.matmul(ops.reshape(x, (-1, shape[-1])), kernel)
    return ops.reshape(flat, (*shape[:-1], ops.shape(kernel)[-1]))


def _forget_chain_forward(forget_logits, candidate, v_f, c0):
    """c_t = u_t + f_t * (c_{t-1} - u_t), f_t = sigmoid(l_t + v_f * c_{t-1}); time-major, returns all c_t.

    This chain is the only part of SRU that must run in time order: the reset gate and the output
    depend on c_{t-1} and c_t but on no earlier output, so they are computed for all steps at once.
    """

    def step(c_prev, inputs):
        logit, u = inputs
        f = ops.sigmoid(logit + v_f * c_prev)
        c = u + f * (c_prev - u)
        return c, c

    _, states = ops.scan(step, c0, (forget_logits, candidate))
    return states


def _forget_chain_backward(d_states, states, forget_logits, candidate, v_f, c0):
    """Hand-written gradient of `_forget_chain_forward`, a reverse loop of element-wise work.

    With g_t the total gradient reaching c_t (from the outputs, plus from c_{t+1}):
        d u_t = g_t (1 - f_t);   d l_t = g_t (c_{t-1} - u_t) f_t (1 - f_t)
        g_{t-1} += g_t f_t + d l_t * v_f;   d v_f = sum over t of d l_t * c_{t-1}
    f_t is recomputed from c_{t-1} rather than stored, trading a sigmoid for a (time, batch, units) buffer.
    """
    previous = ops.concatenate([ops.expand_dims(c0, 0), states[:-1]], axis=0)

    def step(carry, inputs):
        g_next, _ = carry
        d_state, c_prev, logit, u = inputs
        g = d_state + g_next
        f = ops.sigmoid(logit + v_f * c_prev)
        d_candidate = g * (1.0 - f)
        d_logit = g * (c_prev - u) * f * (1.0 - f)
        g_prev = g * f + d_logit * v_f
        # Keras's TensorFlow scan wants the per-step output to mirror the carry's structure.
        return (g_prev, d_logit), (d_candidate, d_logit)

    zeros = ops.zeros_like(c0)
    # Walk time backwards by flipping the inputs (a reverse scan does not compile under XLA).
    flipped = tuple(ops.flip(t, axis=0) for t in (d_states, previous, forget_logits, candidate))
    (d_c0, _), (d_candidate, d_logits) = ops.scan(step, (zeros, zeros), flipped)
    d_candidate, d_logits = ops.flip(d_candidate, axis=0), ops.flip(d_logits, axis=0)
    d_v_f = ops.sum(d_logits * previous, axis=(0, 1))
    return d_logits, d_candidate, d_v_f, d_c0


def _make_forget_chain(compile_forward: bool):
    @ops.custom_gradient
    def forget_chain(forget_logits, candidate, v_f, c0):
        """All states c_t of SRU's recurrence (time-major), with a hand-written, compiled backward pass."""
        # stop_gradient: the gradient is `grad` below; no tape may try to differentiate the loops.
        inputs = [ops.stop_gradient(t) for t in (forget_logits, candidate, v_f, c0)]
        forward = compiled(_forget_chain_forward) if compile_forward else _forget_chain_forward
        states = forward(*inputs)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return compiled(_forget_chain_backward)(ops.stop_gradient(upstream), states, *inputs)

        return states, grad

    return forget_chain


# Training compiles the forward loop too (8 ms of 53 per step at batch 32, length 256, width 256);
# inference runs it as written, since a compiled loop is rebuilt for every new sequence length
# (text sampling grows the sequence one step at a time).
forget_chain_for_training = _make_forget_chain(compile_forward=True)
forget_chain_for_inference = _make_forget_chain(compile_forward=False)


def elementwise_recurrence(candidate, forget_in, reset_in, highway, v_f, v_r, b_f, b_r, alpha,
                           mask=None, initial_c=None, implementation="fused", training=False):
    """The SRU recurrence over time, shared by `SRU` and `SRUpp`. Everything is time-major.

    Args:
        candidate, forget_in, reset_in, highway: (time, batch, units): U_c, U_f, U_r and x'.
        v_f, v_r, b_f, b_r: (units,) weights of the gates.
        alpha: the highway scale (a Python float).
        mask: optional (time, batch) booleans; a masked step leaves the state unchanged and outputs zeros;
            the last output is the output of the last unmasked step.
        initial_c: optional (batch, units) initial state; zeros by default.
        implementation: "fused" (default): only the c-chain runs step by step, with a hand-written
            gradient and XLA where available; "scan": every equation inside a plain `ops.scan` with
            automatic differentiation (the straightforward version, kept as the benchmark's baseline).
        training: whether this is a training step (compiles the forward loop; see forget_chain_for_training).

    Returns:
        (outputs (time, batch, units), last output (batch, units), last state (batch, units)).
    """
    if implementation == "scan":
        return _scan_recurrence(candidate, forget_in, reset_in, highway, v_f, v_r, b_f, b_r, alpha, mask, initial_c)
    batch, units = ops.shape(candidate)[1], ops.shape(candidate)[2]
    c0 = ops.zeros((batch, units), dtype=candidate.dtype) if initial_c is None else ops.cast(initial_c, candidate.dtype)
    forget_logits = forget_in + b_f
    if mask is not None:
        # A masked step must keep c: f = 1 does that, and sigmoid(1e4) is exactly 1 in float32 and float16.
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        forget_logits = ops.where(keep, forget_logits, ops.cast(1e4, forget_logits.dtype))
    # `* 1.0` turns a variable into a tensor, so the custom gradient sees no variable read inside it.
    chain = forget_chain_for_training if training else forget_chain_for_inference
    states = chain(forget_logits, candidate, v_f * 1.0, c0)
    previous = ops.concatenate([ops.expand_dims(c0, 0), states[:-1]], axis=0)
    r = ops.sigmoid(reset_in + v_r * previous + b_r)
    scaled_highway = highway * alpha
    outputs = scaled_highway + r * (states - scaled_highway)
    c_last = states[-1]
    if mask is None:
        return outputs, outputs[-1], c_last
    outputs = ops.where(keep, outputs, ops.zeros_like(outputs))
    # The output of the last unmasked step: index of the last True (0 if none, whose output is then 0).
    steps = ops.expand_dims(ops.arange(ops.shape(mask)[0]), 1)
    last_index = ops.max(ops.where(ops.cast(mask, "bool"), steps, 0), axis=0)
    last = ops.take_along_axis(outputs, ops.reshape(last_index, (1, -1, 1)), axis=0)[0]
    return outputs, last, c_last


def _scan_recurrence(candidate, forget_in, reset_in, highway, v_f, v_r, b_f, b_r, alpha, mask, initial_c):
    """Every SRU equation inside one `ops.scan` step, differentiated automatically."""
    batch = ops.shape(candidate)[1]
    units = ops.shape(candidate)[2]
    c0 = ops.zeros((batch, units), dtype=candidate.dtype) if initial_c is None else initial_c
    h0 = ops.zeros((batch, units), dtype=candidate.dtype)
    sequences = [candidate, forget_in, reset_in, highway]
    if mask is not None:
        sequences.append(ops.expand_dims(ops.cast(mask, "bool"), -1))

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
        return (c, h), (c, h)

    (c_last, h_last), (_, outputs) = ops.scan(step, (c0, h0), tuple(sequences))
    return outputs, h_last, c_last


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
        candidate, forget_in, reset_in = ops.split(u, 3, axis=-1)
        highway = inputs_tm if self.highway_kernel is None else project(inputs_tm, self.highway_kernel)
        initial_c = None
        if initial_state is not None:
            initial_c = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        outputs, h_last, c_last = elementwise_recurrence(
            candidate, forget_in, reset_in, highway, self.v_f, self.v_r, self.b_f, self.b_r, self.alpha,
            mask=mask_tm, initial_c=initial_c, implementation=self.implementation, training=bool(training),
        )
        result = ops.transpose(outputs, (1, 0, 2)) if self.return_sequences else h_last
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
            implementation=self.implementation,
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

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config

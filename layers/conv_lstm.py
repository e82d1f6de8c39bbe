"""Convolutional LSTM (Shi, Chen, Wang, Yeung, Wong & Woo, "Convolutional LSTM Network: A Machine
Learning Approach for Precipitation Nowcasting", NeurIPS 2015), with the paper's peephole terms.

Inputs X_t, cell states C_t and hidden states H_t are all 3-D tensors (rows x columns x channels), and
every input-to-state and state-to-state transition is a convolution (*), so a state's next value depends
on its neighbourhood only (equation 3 of the paper):

    i_t = sigmoid(W_xi * X_t + W_hi * H_{t-1} + W_ci o C_{t-1} + b_i)
    f_t = sigmoid(W_xf * X_t + W_hf * H_{t-1} + W_cf o C_{t-1} + b_f)
    C_t = f_t o C_{t-1} + i_t o tanh(W_xc * X_t + W_hc * H_{t-1} + b_c)
    o_t = sigmoid(W_xo * X_t + W_ho * H_{t-1} + W_co o C_t + b_o)
    H_t = o_t o tanh(C_t)

where o is the Hadamard (element-wise) product: the peephole weights W_ci, W_cf, W_co have the shape of
the state itself (rows x columns x filters), one weight per position and channel. Both convolutions use
"same" padding, so states keep the input's rows and columns (the paper's zero padding at the borders).

With `peepholes=False` the W_c terms are dropped and the cell computes exactly what
`keras.layers.ConvLSTM2D` computes (same weight layout: `kernel`, `recurrent_kernel` and `bias` with
the gates ordered i, f, c, o), so weights move between the two.

Speed: the input-to-state convolution W_x * X_t does not depend on the state, so the `ConvLSTM` layer
applies it to every frame of the sequence in one batched convolution before the recurrence, and each
step then convolves only the hidden state (Keras's ConvLSTM2D convolves the input inside every step).
"""

from __future__ import annotations

import keras
from keras import ops

from keras_recurrent.layers._cell_config import CellArgumentsConfig, lstm_bias_initializer


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) or v <= 0 for v in pair):
        raise ValueError(f"{name} must be a positive integer or a pair of them, got {value!r}")
    return pair


@keras.saving.register_keras_serializable(package="keras_recurrent")
class ConvLSTMCell(keras.layers.Layer):
    """One step of the convolutional LSTM, on frames (rows, columns, channels).

    Args:
        filters: channels of the hidden and cell states.
        kernel_size: size of both convolutions (an int or a (rows, columns) pair); odd sizes keep the
            states centred on their inputs.
        peepholes: add the paper's Hadamard peephole terms W_c o C (off: Keras's ConvLSTM2D equations).
        kernel_initializer, recurrent_initializer, bias_initializer, peephole_initializer: initialisers
            of W_x, W_h, b and the peephole weights.
        unit_forget_bias: add 1 to the forget gate's bias at initialisation, as Keras's LSTMs do.

    Call arguments:
        inputs: (batch, rows, columns, channels), one frame; or, when the `ConvLSTM` layer has already
            applied the input convolution to the whole sequence, that projection (batch, rows, columns,
            4 * filters).
        states: [H, C], each (batch, rows, columns, filters).

    Returns:
        (H', [H', C']).
    """

    def __init__(
        self,
        filters: int,
        kernel_size=3,
        peepholes: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="zeros",
        unit_forget_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"filters must be a positive integer, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.peepholes = bool(peepholes)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.frame_shape = None  # (rows, columns), known once built
        # Set by `ConvLSTM.call` while its recurrence runs on inputs it has already convolved.
        self.inputs_projected = False

    @property
    def state_size(self):
        return [self.filters, self.filters]

    @property
    def output_size(self):
        return self.filters

    def build(self, input_shape):
        rows, columns, channels = input_shape[-3:]
        if rows is None or columns is None or channels is None:
            raise ValueError(f"ConvLSTMCell needs frames of known rows, columns and channels, got {tuple(input_shape)}")
        self.frame_shape = (int(rows), int(columns))
        f = self.filters
        self.kernel = self.add_weight(shape=(*self.kernel_size, channels, 4 * f), initializer=self.kernel_initializer,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(*self.kernel_size, f, 4 * f),
                                                initializer=self.recurrent_initializer, name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * f,), name="bias",
                                    initializer=lstm_bias_initializer(self.bias_initializer, f, self.unit_forget_bias))
        if self.peepholes:
            shape = (*self.frame_shape, f)
            self.peephole_i = self.add_weight(shape=shape, initializer=self.peephole_initializer, name="peephole_i")
            self.peephole_f = self.add_weight(shape=shape, initializer=self.peephole_initializer, name="peephole_f")
            self.peephole_o = self.add_weight(shape=shape, initializer=self.peephole_initializer, name="peephole_o")

    def project_inputs(self, frames):
        """W_x * X + b for frames (..., rows, columns, channels): the part of every gate that does not
        depend on the state, as one convolution over all leading axes."""
        shape = ops.shape(frames)
        flat = ops.reshape(frames, (-1, *shape[-3:]))
        projected = ops.conv(flat, self.kernel, padding="same") + self.bias
        return ops.reshape(projected, (*shape[:-3], shape[-3], shape[-2], 4 * self.filters))

    def get_initial_state(self, batch_size=None):
        zeros = ops.zeros((batch_size, *self.frame_shape, self.filters), dtype=self.compute_dtype)
        return [zeros, ops.zeros_like(zeros)]

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        x = inputs if self.inputs_projected else self.project_inputs(inputs)
        z = x + ops.conv(h_prev, self.recurrent_kernel, padding="same")
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self.peepholes:
            z_i = z_i + self.peephole_i * c_prev
            z_f = z_f + self.peephole_f * c_prev
        c = ops.sigmoid(z_f) * c_prev + ops.sigmoid(z_i) * ops.tanh(z_c)
        if self.peepholes:
            z_o = z_o + self.peephole_o * c  # the output gate looks at the new cell state
        h = ops.sigmoid(z_o) * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            peepholes=self.peepholes,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            peephole_initializer=keras.initializers.serialize(self.peephole_initializer),
            unit_forget_bias=self.unit_forget_bias,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_recurrent")
class ConvLSTM(CellArgumentsConfig, keras.layers.RNN):
    """Convolutional LSTM layer (Shi et al., NeurIPS 2015): `ConvLSTMCell` run over a sequence of frames.

    Args:
        filters, kernel_size, peepholes, initializers, unit_forget_bias: see `ConvLSTMCell`.
        return_sequences: return H of every step, (batch, time, rows, columns, filters); else the last.
        return_state: also return the final [H, C] (what an encoder hands a forecaster).
        go_backwards, stateful, unroll: as for `keras.layers.RNN`.

    Call arguments:
        inputs: (batch, time, rows, columns, channels).
        mask: (batch, time) booleans; masked steps keep the previous state.
        training, initial_state: as for `keras.layers.ConvLSTM2D` (initial_state: [H0, C0]).

    Example:

    >>> layer = ConvLSTM(8, kernel_size=3, return_sequences=True)
    >>> layer(np.zeros((2, 5, 16, 16, 1))).shape
    (2, 5, 16, 16, 8)
    """

    def __init__(
        self,
        filters: int,
        kernel_size=3,
        peepholes: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="zeros",
        unit_forget_bias: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs,
    ):
        cell = ConvLSTMCell(
            filters, kernel_size=kernel_size, peepholes=peepholes, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            peephole_initializer=peephole_initializer, unit_forget_bias=unit_forget_bias,
            dtype=kwargs.get("dtype"), name="conv_lstm_cell",
        )
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 5:
            raise ValueError(f"ConvLSTM expects (batch, time, rows, columns, channels), got {tuple(sequences_shape)}")
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        # The input convolution of every frame at once; the recurrence then convolves only the states.
        projected = self.cell.project_inputs(sequences)
        self.cell.inputs_projected = True
        try:
            return super().call(projected, initial_state=initial_state, mask=mask, training=training)
        finally:
            self.cell.inputs_projected = False

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps, rows, columns = sequences_shape[:4]
        frame = (rows, columns, self.cell.filters)
        output = (batch, steps, *frame) if self.return_sequences else (batch, *frame)
        if self.return_state:
            return output, (batch, *frame), (batch, *frame)
        return output

    @property
    def filters(self):
        return self.cell.filters


__all__ = ["ConvLSTM", "ConvLSTMCell"]

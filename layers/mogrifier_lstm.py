"""Mogrifier LSTM (Melis, Kočiský & Blunsom, "Mogrifier LSTM", ICLR 2020).

Before the usual LSTM step, the input x and the previous output h gate each other for r rounds:

    round i odd:   x <- 2 * sigmoid(Q_i h + b_i) * x      (h modulates the input)
    round i even:  h <- 2 * sigmoid(R_i x + b_i) * h      (the input modulates h)

each round with its own matrix and bias. The factor 2 keeps the gates' expected value near 1 so that a
fresh network starts close to a plain LSTM. The LSTM gates then read the mogrified x and h:

    i, f, g, o = sigmoid / sigmoid / tanh / sigmoid of (W x + U h + b)
    c' = f * c + i * g ;  h' = o * tanh(c')

With `rank=k`, each Q_i and R_i is factorised as a product of (n x k) and (k x m) matrices, as in the
paper's low-rank variant. With `rounds=0` the cell is exactly `keras.layers.LSTMCell` (same weight
layout: kernel / recurrent_kernel / bias with gates ordered i, f, c, o).
"""

from __future__ import annotations

import keras
from keras import ops

from keras_recurrent.layers._cell_config import CellArgumentsConfig, lstm_bias_initializer


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MogrifierLSTMCell(keras.layers.Layer):
    """One step of the Mogrifier LSTM.

    Args:
        units: width of the hidden state.
        rounds: number of mutual gating rounds r (paper's best: 5; 0 = plain LSTM).
        rank: if given, factorise every Q_i / R_i as a rank-`rank` product; None = full matrices.
        kernel_initializer, recurrent_initializer, bias_initializer: for the LSTM weights.
        mogrifier_initializer: for the Q_i / R_i matrices (or their factors).
        unit_forget_bias: add 1 to the forget gate's bias at initialisation, as Keras's LSTM does.

    Call arguments:
        inputs: (batch, input_dim) for one time step.
        states: [h, c], each (batch, units).

    Returns:
        (h', [h', c']).
    """

    def __init__(
        self,
        units: int,
        rounds: int = 5,
        rank: int | None = None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        mogrifier_initializer="glorot_uniform",
        unit_forget_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be positive, got {units}")
        if rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {rounds}")
        if rank is not None and rank <= 0:
            raise ValueError(f"rank must be positive or None, got {rank}")
        self.units = units
        self.rounds = rounds
        self.rank = rank
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.mogrifier_initializer = keras.initializers.get(mogrifier_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_dim, 4 * self.units), initializer=self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(4 * self.units,), name="bias", initializer=lstm_bias_initializer(
            self.bias_initializer, self.units, self.unit_forget_bias))

        # Round i (1-based) odd: x gated from h, matrix (units -> input_dim); even: h gated from x.
        self.mogrifier_kernels, self.mogrifier_biases = [], []
        for i in range(1, self.rounds + 1):
            source, target = (self.units, input_dim) if i % 2 else (input_dim, self.units)
            if self.rank is None:
                factors = [self.add_weight(shape=(source, target), initializer=self.mogrifier_initializer, name=f"mogrifier_{i}")]
            else:
                factors = [
                    self.add_weight(shape=(source, self.rank), initializer=self.mogrifier_initializer, name=f"mogrifier_{i}_left"),
                    self.add_weight(shape=(self.rank, target), initializer=self.mogrifier_initializer, name=f"mogrifier_{i}_right"),
                ]
            self.mogrifier_kernels.append(factors)
            self.mogrifier_biases.append(self.add_weight(shape=(target,), initializer="zeros", name=f"mogrifier_{i}_bias"))

    def mogrify(self, x, h):
        """The r rounds of mutual gating; returns the modulated (x, h)."""
        for i, (factors, bias) in enumerate(zip(self.mogrifier_kernels, self.mogrifier_biases), start=1):
            source = h if i % 2 else x
            z = source
            for factor in factors:
                z = ops.matmul(z, factor)
            gate = 2.0 * ops.sigmoid(z + bias)
            if i % 2:
                x = gate * x
            else:
                h = gate * h
        return x, h

    def call(self, inputs, states, training=False):
        h, c = states
        x, h = self.mogrify(inputs, h)
        z = ops.matmul(x, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        zi, zf, zg, zo = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(zf) * c + ops.sigmoid(zi) * ops.tanh(zg)
        h = ops.sigmoid(zo) * ops.tanh(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            rounds=self.rounds,
            rank=self.rank,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            mogrifier_initializer=keras.initializers.serialize(self.mogrifier_initializer),
            unit_forget_bias=self.unit_forget_bias,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MogrifierLSTM(CellArgumentsConfig, keras.layers.RNN):
    """Mogrifier LSTM layer (Melis et al., ICLR 2020): `MogrifierLSTMCell` run over a sequence.

    Args:
        units, rounds, rank, initializers, unit_forget_bias: see `MogrifierLSTMCell`.
        dropout: input dropout with one mask per sequence, shared by all steps (variational dropout).
        seed: seed of the dropout mask.
        return_sequences: return the output of every step, (batch, time, units); else the last.
        return_state: also return the final [h, c].
        go_backwards: read the sequence in reverse (returns the reversed sequence of outputs).
        unroll, stateful: as for `keras.layers.RNN`.

    Call arguments:
        inputs: (batch, time, features).
        mask: (batch, time) booleans; masked steps keep the previous state (padding is skipped).
        training, initial_state: as for `keras.layers.LSTM`.

    Example:

    >>> layer = MogrifierLSTM(32, rounds=5, return_sequences=True)
    >>> layer(np.zeros((4, 10, 8))).shape
    (4, 10, 32)
    """

    def __init__(
        self,
        units: int,
        rounds: int = 5,
        rank: int | None = None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        mogrifier_initializer="glorot_uniform",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs,
    ):
        cell = MogrifierLSTMCell(
            units, rounds=rounds, rank=rank, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            mogrifier_initializer=mogrifier_initializer, unit_forget_bias=unit_forget_bias,
            dtype=kwargs.get("dtype"), name="mogrifier_lstm_cell",
        )
        super().__init__(
            cell, return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
            stateful=stateful, unroll=unroll, **kwargs,
        )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.seed = seed
        self.dropout_seed = keras.random.SeedGenerator(seed)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if training and self.dropout > 0:
            # Done once on the whole sequence rather than inside the step: the same mask at every step.
            batch, _, features = ops.shape(sequences)
            sequences = keras.random.dropout(
                sequences, self.dropout, noise_shape=(batch, 1, features), seed=self.dropout_seed
            )
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    @property
    def units(self):
        return self.cell.units

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout, "seed": self.seed}

"""Recurrent encoders shared by the tasks, by name.

Each entry builds one recurrent layer: `make(units, return_sequences, dropout) -> keras layer`.
A new recurrent layer from `layers/` becomes available to every task that uses this registry by
adding one entry here.
"""

from __future__ import annotations

import keras

from keras_recurrent.layers import NTM, SRU, MogrifierLSTM, SRUpp


def _keras_rnn(cls):
    def make(units: int, return_sequences: bool, dropout: float = 0.0, name: str | None = None):
        return cls(units, return_sequences=return_sequences, dropout=dropout, name=name)

    return make


def _bidirectional(make_layer):
    def make(units: int, return_sequences: bool, dropout: float = 0.0, name: str | None = None):
        # Each direction gets `units`; the concatenated output is 2 * units wide.
        return keras.layers.Bidirectional(make_layer(units, return_sequences, dropout), name=name)

    return make


def _ntm(units: int, return_sequences: bool, dropout: float = 0.0, name: str | None = None):
    # The paper's copy-task sizes, scaled to the task's width: 128 memory rows of 20, one head of each
    # kind, an LSTM controller as wide as the output.
    return NTM(units, memory_size=128, memory_width=20, controller_units=units, dropout=dropout,
               return_sequences=return_sequences, name=name)


RECURRENT_ENCODERS = {
    "simple_rnn": _keras_rnn(keras.layers.SimpleRNN),
    "lstm": _keras_rnn(keras.layers.LSTM),
    "gru": _keras_rnn(keras.layers.GRU),
    "bilstm": _bidirectional(_keras_rnn(keras.layers.LSTM)),
    "bigru": _bidirectional(_keras_rnn(keras.layers.GRU)),
    "mogrifier": _keras_rnn(MogrifierLSTM),
    "sru": _keras_rnn(SRU),
    # Unmasked (bidirectional) attention: the encoder tasks classify or summarise whole sequences;
    # a language model builds its own causal SRUpp.
    "srupp": _keras_rnn(SRUpp),
    "ntm": _ntm,
}


def stacked_encoder(kind: str, x, units: int, num_layers: int, dropout: float, return_sequences=False):
    """Apply `num_layers` recurrent layers of `kind`; all but the last return full sequences.

    Keras propagates the padding mask from an `Embedding(mask_zero=True)` through every layer.
    """
    make = RECURRENT_ENCODERS[kind]
    for i in range(num_layers):
        last = i == num_layers - 1
        x = make(units, return_sequences or not last, dropout, name=f"{kind}_{i + 1}")(x)
    return x

"""What the LSTM-like layers share: serialization of a layer that builds its own cell from its arguments,
and the LSTM bias initializer.

`keras.layers.RNN.get_config` nests the cell's config; a layer such as `MogrifierLSTM(32, rounds=5)`
takes the cell's arguments directly, so its config holds them flat beside the RNN's own (return_sequences,
go_backwards...) and `from_config` rebuilds the layer, and its cell, through `__init__`.
"""

from __future__ import annotations


class CellArgumentsConfig:
    """Mixin for a `keras.layers.RNN` subclass whose `__init__` takes its cell's arguments."""

    def get_config(self):
        config = super().get_config()
        config.pop("cell", None)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):  # the layer's own, not the cell's
            cell_config.pop(key, None)
        config.update(cell_config)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def lstm_bias_initializer(base, units: int, unit_forget_bias: bool):
    """The initializer of an LSTM's bias, gates ordered i, f, c, o (Keras's layout): `base` everywhere, and
    with `unit_forget_bias` ones for the forget gate, so that the cell starts by keeping its state."""
    if not unit_forget_bias:
        return base

    def initializer(shape, dtype=None):
        from keras import ops

        return ops.concatenate([base((units,), dtype=dtype), ops.ones((units,), dtype=dtype), base((2 * units,), dtype=dtype)])

    return initializer

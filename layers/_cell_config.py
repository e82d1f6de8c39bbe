"""Serialization of recurrent layers that build their own cell from their arguments.

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

"""The pointer network (Vinyals, Fortunato & Jaitly 2015) as one Keras model, trained with teacher forcing.

Inputs (see `task.py` for the encoding):
    points    (batch, positions, features): position 0 is the stop symbol, positions 1..n the points,
              the rest zero padding (masked);
    previous  (batch, steps) integers: the position chosen at the step before each step (0 at step 0, so
              the decoder's first input is the stop symbol, the paper's "go" symbol).
Output: (batch, steps, positions) probabilities of the position chosen at each step.

The encoder (an LSTM by default, or any recurrent layer of the shared registry) reads the embedded
points; the decoder LSTM reads, at each step, the embedding of the point chosen at the step before,
starting from the encoder's final state; `PointerAttention` turns encoder and decoder states into the
distribution over positions, excluding padding and the points already chosen. Decoding one step at a
time (greedy or beam search, `decoding.py`) feeds the model its own choices as `previous`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_recurrent.tasks.base import hparam
from keras_recurrent.tasks.encoders import RECURRENT_ENCODERS, stacked_encoder


@dataclass
class PointerModel:
    """Section `model` of the pointer tasks."""

    units: int = hparam(128, help="width of the point embedding, the encoder and the decoder", min=1)
    encoder: str = hparam("lstm", help="recurrent layer that reads the points", choices=tuple(RECURRENT_ENCODERS))
    num_layers: int = hparam(1, help="stacked encoder layers", min=1)
    attention_units: int = hparam(0, help="hidden width of the pointer's additive score; 0 = units", min=0)
    dropout: float = hparam(0.0, help="dropout on the encoder's and decoder's inputs", min=0.0, max=0.9)
    beam_width: int = hparam(1, help="decoding: 1 = greedy, more = beam search with this many hypotheses", min=1, at_use=True)


def build_pointer_network(config: PointerModel, info: dict):
    """Encoder over the points, decoder over the previous choices, pointer attention on top."""
    import keras

    from keras_recurrent.layers import PointerAttention, SelectPositions

    units = config.units
    points = keras.Input(shape=(None, info["features"]), name="points")
    previous = keras.Input(shape=(None,), dtype="int32", name="previous")
    embed = keras.layers.Dense(units, name="embed")  # one embedding for what the encoder and decoder read
    embedded = embed(keras.layers.Masking(0.0, name="padding")(points))
    if config.encoder == "lstm":
        # The paper's model: the decoder starts from the encoder LSTM's own final (h, c).
        x = embedded
        for i in range(config.num_layers - 1):
            x = keras.layers.LSTM(units, return_sequences=True, dropout=config.dropout, name=f"lstm_{i + 1}")(x)
        encoded, h, c = keras.layers.LSTM(units, return_sequences=True, return_state=True, dropout=config.dropout,
                                          name=f"lstm_{config.num_layers}")(x)
    else:
        # Other encoders keep no LSTM cell state to hand over: the decoder starts from a projection of
        # the mean encoder state over the real positions.
        encoded = stacked_encoder(config.encoder, embedded, units, config.num_layers, config.dropout,
                                  return_sequences=True)
        summary = keras.layers.GlobalAveragePooling1D(name="summary")(encoded)
        h = keras.layers.Dense(units, activation="tanh", name="initial_h")(summary)
        c = keras.layers.Dense(units, name="initial_c")(summary)
    chosen = embed(SelectPositions(name="previous_points")([points, previous]))
    decoded = keras.layers.LSTM(units, return_sequences=True, dropout=config.dropout, name="decoder")(
        chosen, initial_state=[h, c])
    probabilities = PointerAttention(
        config.attention_units or units, exclude_chosen=True, stop_index=0,
        min_before_stop=info["min_before_stop"], all_before_stop=info["all_before_stop"], name="pointer",
    )([encoded, decoded, previous])
    return keras.Model([points, previous], probabilities, name=f"pointer_{config.encoder}")


__all__ = ["PointerModel", "build_pointer_network"]

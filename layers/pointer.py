"""Pointer attention (Vinyals, Fortunato & Jaitly, "Pointer Networks", NeurIPS 2015).

A pointer network's output at decoding step i is not a word of a fixed vocabulary but a position of its
own input. The additive score of `AdditiveScore` becomes the output distribution itself (eq. 3):

    u_ij = v^T tanh(W1 e_j + W2 d_i)        j over input positions
    p(C_i | C_1..C_{i-1}, P) = softmax_j(u_ij)

with e_j the encoder state at input position j and d_i the decoder state at step i. The size of the
output follows the input, which is what lets one model sort 5 numbers or 50, or visit the cities of a
tour of any length.

Positions that cannot be the answer get probability zero before the softmax normalises: padding beyond
a sequence's length, and, for the problems whose answer never repeats a position (a permutation, a
polygon of distinct points), the positions already chosen. A stop position (an extra input the decoder
points at to end a variable-length answer) can be held back until enough positions are chosen, or until
every position is. The paper kept its training softmax unconstrained and enforced validity in the beam
search only; masking in both makes training see the distribution decoding uses, and every decoded
answer valid.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_recurrent.layers.additive_attention import AdditiveScore

_EXCLUDED = -1e9  # a finite logit for excluded positions: exp underflows to 0 without inf - inf = NaN


@keras.saving.register_keras_serializable(package="keras_recurrent")
class PointerAttention(keras.layers.Layer):
    """A distribution over input positions for every decoding step: softmax_j(v^T tanh(W1 e_j + W2 d_i)).

    Args:
        units: width of the additive score's hidden layer.
        exclude_chosen: give probability zero to the positions chosen at earlier steps (read from the
            `previous` input); the stop position is never excluded this way.
        stop_index: the input position that means "stop" (None: no such position).
        min_before_stop: the stop position is excluded until this many other positions are chosen.
        all_before_stop: the stop position is excluded while any unmasked position is still unchosen
            (the answer is a permutation of the input).

    Call arguments:
        inputs: `[encoded, queries]` or `[encoded, queries, previous]`: encoded (batch, positions,
            features) encoder states e_j; queries (batch, steps, features) decoder states d_i; previous
            (batch, steps) integers, the position chosen at the step before each step (at step 0 the
            decoder's start symbol, usually `stop_index`), needed by `exclude_chosen` and the stop rules.
        mask: Keras's mask of `encoded` (batch, positions), True for real positions; padded positions
            get probability zero.

    Returns:
        (batch, steps, positions) probabilities; each row sums to 1 over the allowed positions. A step
        where nothing is allowed (after the answer ended) points at the stop position, or, without one,
        spreads over the unmasked positions.

    Example:

    >>> pointer = PointerAttention(32, exclude_chosen=True, stop_index=0, all_before_stop=True)
    >>> probs = pointer([np.ones((2, 6, 16)), np.ones((2, 6, 8)), np.zeros((2, 6), "int32")])
    >>> tuple(probs.shape)
    (2, 6, 6)
    """

    def __init__(self, units: int, exclude_chosen: bool = False, stop_index: int | None = None,
                 min_before_stop: int = 0, all_before_stop: bool = False, **kwargs):
        super().__init__(**kwargs)
        if int(min_before_stop) < 0:
            raise ValueError(f"min_before_stop must be at least 0, got {min_before_stop}")
        if stop_index is not None and int(stop_index) < 0:
            raise ValueError(f"stop_index must be a position (at least 0) or None, got {stop_index}")
        if stop_index is None and (min_before_stop or all_before_stop):
            raise ValueError("min_before_stop and all_before_stop need a stop_index")
        self.units = int(units)
        self.exclude_chosen = bool(exclude_chosen)
        self.stop_index = None if stop_index is None else int(stop_index)
        self.min_before_stop = int(min_before_stop)
        self.all_before_stop = bool(all_before_stop)
        self.score = AdditiveScore(self.units, name="score")
        self.supports_masking = True

    def build(self, input_shape):
        self.score.build((input_shape[0], input_shape[1]))

    def call(self, inputs, mask=None):
        encoded, queries = inputs[0], inputs[1]
        previous = inputs[2] if len(inputs) > 2 else None
        scores = self.score([encoded, queries])  # (batch, steps, positions)
        positions = ops.arange(ops.shape(scores)[-1], dtype="int32")
        allowed = ops.ones_like(scores, dtype="bool")
        key_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if key_mask is not None:
            allowed = ops.logical_and(allowed, ops.expand_dims(ops.cast(key_mask, "bool"), 1))
        real = allowed  # unmasked positions, before any rule about earlier choices
        is_stop = None if self.stop_index is None else ops.equal(positions, self.stop_index)
        if previous is not None and (self.exclude_chosen or is_stop is not None):
            # chosen[b, i, j]: position j was pointed at by some step before i (previous holds them).
            picked = ops.cast(ops.equal(ops.expand_dims(ops.cast(previous, "int32"), -1), positions), "int32")
            chosen = ops.cumsum(picked, axis=1) > 0
            if is_stop is not None:
                chosen = ops.logical_and(chosen, ops.logical_not(is_stop))
            if self.exclude_chosen:
                allowed = ops.logical_and(allowed, ops.logical_not(chosen))
            if is_stop is not None:
                stop_ok = ops.ones_like(scores[..., 0], dtype="bool")
                if self.min_before_stop:
                    count = ops.sum(ops.cast(chosen, "int32"), axis=-1)
                    stop_ok = ops.logical_and(stop_ok, count >= self.min_before_stop)
                if self.all_before_stop:
                    open_positions = ops.logical_and(real, ops.logical_not(chosen))
                    open_positions = ops.logical_and(open_positions, ops.logical_not(is_stop))
                    stop_ok = ops.logical_and(stop_ok, ops.logical_not(ops.any(open_positions, axis=-1)))
                allowed = ops.where(is_stop, ops.logical_and(allowed, ops.expand_dims(stop_ok, -1)), allowed)
        # Nothing allowed (the answer already ended, or fewer positions than min_before_stop): the stop
        # position, else every unmasked position, so the softmax stays a distribution.
        nothing = ops.logical_not(ops.any(allowed, axis=-1, keepdims=True))
        fallback = is_stop if is_stop is not None else (
            ops.expand_dims(ops.cast(key_mask, "bool"), 1) if key_mask is not None else True)
        allowed = ops.where(nothing, ops.logical_or(allowed, fallback), allowed)
        logits = ops.where(allowed, scores, ops.full_like(scores, _EXCLUDED))
        return ops.softmax(logits, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[1][1], input_shape[0][1])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "exclude_chosen": self.exclude_chosen,
            "stop_index": self.stop_index,
            "min_before_stop": self.min_before_stop,
            "all_before_stop": self.all_before_stop,
        }


@keras.saving.register_keras_serializable(package="keras_recurrent")
class SelectPositions(keras.layers.Layer):
    """Rows of a sequence picked by index: out[b, i] = sequence[b, indices[b, i]].

    A pointer network's decoder reads, at step i, the input it pointed at in step i - 1; this gathers
    those inputs for every step at once (teacher forcing) or for a decoded prefix.

    Call arguments:
        inputs: `[sequence, indices]`: sequence (batch, positions, features); indices (batch, steps) integers.

    Returns:
        (batch, steps, features).

    Example:

    >>> SelectPositions()([np.arange(6.0).reshape(1, 3, 2), np.array([[2, 0]])]).tolist()
    [[[4.0, 5.0], [0.0, 1.0]]]
    """

    def call(self, inputs):
        sequence, indices = inputs
        indices = ops.cast(indices, "int32")
        width = ops.shape(sequence)[-1]
        expanded = ops.broadcast_to(ops.expand_dims(indices, -1), (*ops.shape(indices), width))
        return ops.take_along_axis(sequence, expanded, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][1], input_shape[0][-1])


__all__ = ["PointerAttention", "SelectPositions"]

"""Neural Turing Machine (Graves, Wayne & Danihelka, "Neural Turing Machines", arXiv:1410.5401, 2014),
initialised as Collier & Beel found stable ("Implementing Neural Turing Machines", ICANN 2018).

A controller (an LSTM, or a feed-forward layer) reads the input and the vectors read at the step before;
from its output every head emits its addressing parameters, and write heads also an erase and an add
vector. The memory M is N x W (`memory_size` rows of `memory_width`). For each head, with the previous
weighting w_{t-1} (section 3.3 of the paper):

    content     K(k, M_i) = k . M_i / (|k| |M_i|)                 cosine similarity, |x| = sqrt(x.x + eps)
                w^c_i     = softmax_i(beta K(k, M_i))              key k = tanh(.), strength beta = softplus(.)
    gate        w^g       = g w^c + (1 - g) w_{t-1}                g = sigmoid(.)
    shift       w~_i      = sum_d s_d w^g_{(i - d) mod N}          d in [-shift_range, shift_range], s = softmax(.)
    sharpen     w_i       = w~_i^gamma / sum_j w~_j^gamma          gamma = 1 + softplus(.)

    read        r         = sum_i w_i M_i                           (from the memory before this step's writes)
    write       M_i      <- M_i (1 - w_i e) + w_i a                 erase e = sigmoid(.), add a = tanh(.), head by head

The output is a linear map of the controller's output and the read vectors. Following Collier & Beel,
memory starts as the constant 1e-6 in every cell, and the initial read vectors and weightings are
learned (the weightings through a softmax of learned logits), which they found to converge fastest and
most reliably. Numerical safety: the norms carry an eps inside the square root, so the cosine of a zero
vector is 0 with a finite gradient; sharpening runs as exp(gamma log(w~ + eps)), so a zero weight has a
finite gradient with respect to gamma; the controller's output is clipped (`controller_clip`).
"""

from __future__ import annotations

import keras
from keras import ops

_EPS = 1e-8
_MEMORY_INIT = 1e-6


def _norm(x, axis=-1):
    return ops.sqrt(ops.sum(ops.square(x), axis=axis) + _EPS)


def address(memory, key, strength, gate, shift, sharpness, previous):
    """The NTM's addressing for several heads at once.

    Args:
        memory: (batch, N, W). key: (batch, heads, W). strength, gate, sharpness: (batch, heads, 1).
        shift: (batch, heads, 2 * shift_range + 1), a distribution over shifts -R..R. previous: (batch, heads, N).

    Returns:
        (batch, heads, N) weightings.
    """
    dot = ops.einsum("bhw,bnw->bhn", key, memory)
    cosine = dot / (ops.expand_dims(_norm(key), -1) * ops.expand_dims(_norm(memory), 1))
    content = ops.softmax(strength * cosine, axis=-1)
    gated = gate * content + (1.0 - gate) * previous
    radius = (ops.shape(shift)[-1] - 1) // 2
    shifted = sum(shift[..., d + radius: d + radius + 1] * ops.roll(gated, d, axis=-1) for d in range(-radius, radius + 1))
    sharpened = ops.exp(sharpness * ops.log(shifted + _EPS))
    return sharpened / ops.sum(sharpened, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_recurrent")
class NTMCell(keras.layers.Layer):
    """One step of a Neural Turing Machine (see the module docstring for the equations).

    Args:
        units: width of the output.
        memory_size: N, the number of memory rows.
        memory_width: W, the width of a memory row.
        read_heads, write_heads: how many heads of each kind.
        controller_units: width of the controller.
        controller: "lstm" (default) or "dense" (feed-forward, ReLU).
        shift_range: the largest shift a head can make (1: shifts -1, 0, +1).
        controller_clip: the controller's output is clipped to [-clip, clip]; 0 disables.

    States: the controller's (h, c for an LSTM; none for dense), the read vectors (read_heads * W), the read
    and write weightings (heads * N each) and the memory (N * W), all flattened.
    """

    def __init__(self, units: int, memory_size: int = 128, memory_width: int = 20, read_heads: int = 1,
                 write_heads: int = 1, controller_units: int = 100, controller: str = "lstm", shift_range: int = 1,
                 controller_clip: float = 20.0, **kwargs):
        super().__init__(**kwargs)
        for name, value, low in (("units", units, 1), ("memory_size", memory_size, 1), ("memory_width", memory_width, 1),
                                 ("read_heads", read_heads, 1), ("write_heads", write_heads, 0),
                                 ("controller_units", controller_units, 1), ("shift_range", shift_range, 0)):
            if int(value) < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        if controller not in ("lstm", "dense"):
            raise ValueError(f"controller must be 'lstm' or 'dense', got {controller!r}")
        if 2 * int(shift_range) + 1 > int(memory_size):
            raise ValueError(f"shift_range {shift_range} needs at least {2 * int(shift_range) + 1} memory rows")
        self.units = int(units)
        self.memory_size = int(memory_size)
        self.memory_width = int(memory_width)
        self.read_heads = int(read_heads)
        self.write_heads = int(write_heads)
        self.controller_units = int(controller_units)
        self.controller_kind = controller
        self.shift_range = int(shift_range)
        self.controller_clip = float(controller_clip)
        n, w, r = self.memory_size, self.memory_width, self.read_heads
        controller_state = [controller_units, controller_units] if controller == "lstm" else []
        self.state_size = controller_state + [r * w, r * n, max(self.write_heads, 1) * n, n * w]
        self.output_size = self.units
        shifts = 2 * self.shift_range + 1
        self._address_width = w + 1 + 1 + shifts + 1  # key, strength, gate, shift, sharpness
        if controller == "lstm":
            self.controller = keras.layers.LSTMCell(self.controller_units, name="controller")
        else:
            self.controller = keras.layers.Dense(self.controller_units, activation="relu", name="controller")
        self.heads = keras.layers.Dense(
            (r + self.write_heads) * self._address_width + self.write_heads * 2 * w, name="heads")
        self.readout = keras.layers.Dense(self.units, name="readout")

    def build(self, input_shape):
        features = input_shape[-1]
        reads = self.read_heads * self.memory_width
        if self.controller_kind == "lstm":
            self.controller.build((None, features + reads))
        else:
            self.controller.build((None, features + reads))
        self.heads.build((None, self.controller_units))
        self.readout.build((None, self.controller_units + reads))
        self.initial_reads = self.add_weight(name="initial_reads", shape=(reads,),
                                             initializer=keras.initializers.RandomNormal(stddev=0.5))
        self.initial_read_logits = self.add_weight(name="initial_read_logits", shape=(self.read_heads * self.memory_size,),
                                                   initializer=keras.initializers.RandomNormal(stddev=0.5))
        self.initial_write_logits = self.add_weight(
            name="initial_write_logits", shape=(max(self.write_heads, 1) * self.memory_size,),
            initializer=keras.initializers.RandomNormal(stddev=0.5))

    def get_initial_state(self, batch_size=None):
        n = self.memory_size

        def tiled(vector):
            return ops.broadcast_to(ops.expand_dims(vector, 0), (batch_size, ops.shape(vector)[0]))

        def weighting(logits, heads):
            return ops.reshape(ops.softmax(ops.reshape(logits, (heads, n)), axis=-1), (heads * n,))

        controller = [ops.zeros((batch_size, self.controller_units), self.compute_dtype)
                      for _ in range(2 if self.controller_kind == "lstm" else 0)]
        return controller + [
            tiled(self.initial_reads),
            tiled(weighting(self.initial_read_logits, self.read_heads)),
            tiled(weighting(self.initial_write_logits, max(self.write_heads, 1))),
            ops.full((batch_size, n * self.memory_width), _MEMORY_INIT, dtype=self.compute_dtype),
        ]

    def call(self, inputs, states, training=False):
        n, w, r, k = self.memory_size, self.memory_width, self.read_heads, self.write_heads
        if self.controller_kind == "lstm":
            h, c, reads, read_w, write_w, memory = states
        else:
            reads, read_w, write_w, memory = states
        memory = ops.reshape(memory, (-1, n, w))
        controller_in = ops.concatenate([inputs, reads], axis=-1)
        if self.controller_kind == "lstm":
            out, (h, c) = self.controller(controller_in, [h, c], training=training)
            controller_state = [h, c]
        else:
            out, controller_state = self.controller(controller_in), []
        if self.controller_clip > 0:
            out = ops.clip(out, -self.controller_clip, self.controller_clip)
        params = self.heads(out)
        heads = r + k
        addressing = ops.reshape(params[:, : heads * self._address_width], (-1, heads, self._address_width))
        key = ops.tanh(addressing[..., :w])
        strength = ops.softplus(addressing[..., w: w + 1])
        gate = ops.sigmoid(addressing[..., w + 1: w + 2])
        shift = ops.softmax(addressing[..., w + 2: -1], axis=-1)
        sharpness = 1.0 + ops.softplus(addressing[..., -1:])
        previous = ops.concatenate([ops.reshape(read_w, (-1, r, n)), ops.reshape(write_w, (-1, max(k, 1), n))[:, :k]], axis=1)
        weights = address(memory, key, strength, gate, shift, sharpness, previous)
        new_read_w = weights[:, :r]
        new_reads = ops.einsum("bhn,bnw->bhw", new_read_w, memory)  # the memory before this step's writes
        if k:
            new_write_w = weights[:, r:]
            erase_add = ops.reshape(params[:, heads * self._address_width:], (-1, k, 2 * w))
            erase, add = ops.sigmoid(erase_add[..., :w]), ops.tanh(erase_add[..., w:])
            for head in range(k):
                weighting = ops.expand_dims(new_write_w[:, head], -1)  # (batch, N, 1)
                memory = memory * (1.0 - weighting * ops.expand_dims(erase[:, head], 1)) + weighting * ops.expand_dims(add[:, head], 1)
            write_state = ops.reshape(new_write_w, (-1, k * n))
        else:
            write_state = write_w
        new_reads = ops.reshape(new_reads, (-1, r * w))
        output = self.readout(ops.concatenate([out, new_reads], axis=-1))
        new_states = controller_state + [new_reads, ops.reshape(new_read_w, (-1, r * n)), write_state,
                                         ops.reshape(memory, (-1, n * w))]
        return output, new_states

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units, "memory_size": self.memory_size, "memory_width": self.memory_width,
            "read_heads": self.read_heads, "write_heads": self.write_heads,
            "controller_units": self.controller_units, "controller": self.controller_kind,
            "shift_range": self.shift_range, "controller_clip": self.controller_clip,
        }


_CELL_ARGS = ("memory_size", "memory_width", "read_heads", "write_heads", "controller_units", "controller",
              "shift_range", "controller_clip")


@keras.saving.register_keras_serializable(package="keras_recurrent")
class NTM(keras.layers.RNN):
    """A Neural Turing Machine over a sequence: `NTMCell` inside `keras.layers.RNN`.

    Args:
        units: width of the output at each step.
        memory_size, memory_width, read_heads, write_heads, controller_units, controller, shift_range,
        controller_clip: as `NTMCell`.
        dropout: input dropout with one mask per sequence, shared by all steps.
        seed: seed of the dropout mask.
        return_sequences, return_state, go_backwards: as every Keras RNN.

    Call arguments:
        inputs: (batch, time, features). mask: (batch, time); masked steps keep every state unchanged.

    Returns:
        (batch, units), or (batch, time, units) with `return_sequences`; with `return_state`, the cell's
        states follow.

    Example:

    >>> ntm = NTM(8, memory_size=16, memory_width=6, controller_units=32, return_sequences=True)
    >>> tuple(ntm(np.zeros((2, 5, 10), "float32")).shape)
    (2, 5, 8)
    >>> trace = ntm.trace(np.zeros((1, 5, 10), "float32"))   # read / write weightings for plots
    >>> trace["read_weightings"].shape
    (1, 5, 1, 16)
    """

    def __init__(self, units: int, memory_size: int = 128, memory_width: int = 20, read_heads: int = 1,
                 write_heads: int = 1, controller_units: int = 100, controller: str = "lstm", shift_range: int = 1,
                 controller_clip: float = 20.0, dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False, **kwargs):
        kwargs.pop("cell", None)
        cell = NTMCell(units, memory_size=memory_size, memory_width=memory_width, read_heads=read_heads,
                       write_heads=write_heads, controller_units=controller_units, controller=controller,
                       shift_range=shift_range, controller_clip=controller_clip, name="ntm_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, **kwargs)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.units = int(units)
        self.dropout = float(dropout)
        self.seed = seed
        self.dropout_seed = keras.random.SeedGenerator(seed)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if training and self.dropout > 0:
            batch, _, features = ops.shape(sequences)  # one mask for every step of a sequence
            sequences = keras.random.dropout(sequences, self.dropout, noise_shape=(batch, 1, features),
                                             seed=self.dropout_seed)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def trace(self, inputs) -> dict:
        """Run the sequence step by step and return, as NumPy arrays, the outputs (batch, time, units), the
        read and write weightings (batch, time, heads, N) and the memory after each step (batch, time, N, W)."""
        import numpy as np

        cell = self.cell
        x = ops.convert_to_tensor(inputs)
        if not self.built:
            self.build(x.shape)
        states = cell.get_initial_state(batch_size=x.shape[0])
        outputs, reads, writes, memories = [], [], [], []
        n, w = cell.memory_size, cell.memory_width
        for t in range(x.shape[1]):
            out, states = cell(x[:, t], states)
            outputs.append(ops.convert_to_numpy(out))
            reads.append(ops.convert_to_numpy(states[-3]).reshape(-1, cell.read_heads, n))
            writes.append(ops.convert_to_numpy(states[-2]).reshape(-1, max(cell.write_heads, 1), n)[:, :cell.write_heads])
            memories.append(ops.convert_to_numpy(states[-1]).reshape(-1, n, w))
        return {"outputs": np.stack(outputs, 1), "read_weightings": np.stack(reads, 1),
                "write_weightings": np.stack(writes, 1), "memory": np.stack(memories, 1)}

    def get_config(self):
        config = super().get_config()
        config.pop("cell", None)
        cell = self.cell.get_config()
        return {**config, "units": self.units, "dropout": self.dropout, "seed": self.seed,
                **{k: cell[k] for k in _CELL_ARGS}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


__all__ = ["NTM", "NTMCell", "address"]

"""Run a trained sequence model one time step at a time, carrying its recurrent state.

A recurrent network is a function of one step and a state; training runs it over whole sequences for
speed, but a device that receives a stream (characters as they are typed, sensor readings as they
arrive) wants the step: one element in, one output and the new state out, in constant time and memory.
`StepModel` rebuilds that step from a trained model's own layers (the weights are shared, not copied):

    y_t, state_t = step(x_t, state_{t-1}),    state_0 = zeros

For every step t < `context`, y_t equals the full-sequence model's output at t (the layers' `call`).

Supported: models that are a chain of layers from one sequence input to one sequence output, each
either position-wise (Embedding, Dense, Dropout, LayerNormalization, Activation: they act on each step
alone) or a forward recurrent layer: Keras's SimpleRNN, LSTM and GRU (through their cells),
`MogrifierLSTM`, `SRU` and causal `SRUpp`. Bidirectional layers and layers that read backwards need the
future, and are refused with a message naming them.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_recurrent.layers.sru import _SRUBase

_POSITION_WISE = (
    keras.layers.Embedding,
    keras.layers.Dense,
    keras.layers.Dropout,
    keras.layers.LayerNormalization,
    keras.layers.Activation,
)


def state_shapes(layer, context: int) -> list[tuple]:
    """Shapes (without batch) of the state a recurrent layer carries from one step to the next."""
    if isinstance(layer, _SRUBase):
        return layer.step_state_shapes(context)
    if isinstance(layer, keras.layers.RNN):
        if layer.go_backwards:
            raise ValueError(f"{layer.name}: a layer that reads its sequence backwards cannot run one step at a time")
        sizes = layer.cell.state_size
        sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
        return [tuple(s) if isinstance(s, (list, tuple)) else (s,) for s in sizes]
    raise ValueError(f"{layer.name}: {type(layer).__name__} cannot run one step at a time")


def step(layer, x_t, states: list):
    """(output at this step, new states) of one recurrent layer, at inference."""
    if isinstance(layer, _SRUBase):
        return layer.step(x_t, states)
    output, new_states = layer.cell(x_t, list(states), training=False)
    return output, list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]


def _is_recurrent(layer) -> bool:
    return isinstance(layer, (_SRUBase, keras.layers.RNN))


def _chain(model) -> list:
    """The model's layers from input to output, checked to form a single chain the step can follow."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name}: a step model needs one sequence input and one sequence output")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        if len(layer._inbound_nodes) != 1:
            raise ValueError(f"{model.name}: layer {layer.name} is used more than once; only a chain of layers can step")
        if not (_is_recurrent(layer) or isinstance(layer, _POSITION_WISE)):
            raise ValueError(f"{layer.name}: {type(layer).__name__} mixes time steps; it cannot run one step at a time")
        if _is_recurrent(layer) and not layer.return_sequences:
            raise ValueError(f"{layer.name}: returns one vector per sequence, not one output per step")
    return layers


class StepModel(keras.Model):
    """One time step of a trained sequence model: `[x_t, *states] -> [y_t, *new_states]`.

    Args:
        model: a trained functional model, a chain from one (batch, time, ...) input to one
            (batch, time, ...) output (see the module docstring for the layers it may hold).
        context: the attention window of layers that keep past keys (causal `SRUpp`): the step
            equals the full model on sequences up to this long. Ignored by purely recurrent stacks.

    Call arguments:
        inputs: a list `[x_t, *states]`: x_t is one step of the model's input without the time axis
            (batch,) token ids or (batch, features); the states have the shapes `state_specs` gives,
            zeros at the start of a sequence.

    Returns:
        `[y_t, *new_states]`: the model's output at this step (batch, ...) and the states to feed back.

    Example:

    >>> full = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(10, 4),
    ...                          keras.layers.GRU(8, return_sequences=True), keras.layers.Dense(10)])
    >>> stepper = StepModel(full)
    >>> states = [np.zeros((2, *shape), "float32") for shape in stepper.state_shapes]
    >>> y, *states = stepper([np.array([1, 2], "int32"), *states])
    >>> y.shape
    (2, 10)
    """

    def __init__(self, model, context: int = 1, **kwargs):
        super().__init__(name=kwargs.pop("name", f"{model.name}_step"), **kwargs)
        self.full_model = model
        self.context = int(context)
        self.chain = _chain(model)
        self.state_shapes = [shape for layer in self.chain if _is_recurrent(layer) for shape in state_shapes(layer, context)]
        self.step_input_dtype = model.inputs[0].dtype
        self.input_step_shape = tuple(model.inputs[0].shape[2:])

    def call(self, inputs):
        x, states = inputs[0], list(inputs[1:])
        new_states = []
        for layer in self.chain:
            if _is_recurrent(layer):
                count = len(state_shapes(layer, self.context))
                x, advanced = step(layer, x, states[:count])
                states = states[count:]
                new_states.extend(advanced)
            elif isinstance(layer, keras.layers.Dropout):
                continue  # inference: identity
            else:
                x = layer(x)
        return [x, *new_states]

    def initial_states(self, batch_size: int = 1) -> list:
        """Zero states for `batch_size` sequences, as NumPy arrays."""
        import numpy as np

        return [np.zeros((batch_size, *shape), dtype="float32") for shape in self.state_shapes]

    def input_specs(self, batch_size=None) -> list:
        """`tf.TensorSpec`s of `[x_t, *states]`, for export."""
        import tensorflow as tf

        specs = [tf.TensorSpec((batch_size, *self.input_step_shape), self.step_input_dtype, name="step_input")]
        specs += [tf.TensorSpec((batch_size, *shape), tf.float32, name=f"state_{i}") for i, shape in enumerate(self.state_shapes)]
        return specs


def run_steps(stepper: StepModel, sequences):
    """Feed (batch, time, ...) sequences through the step model from zero states; (batch, time, ...) outputs."""
    batch = ops.shape(sequences)[0]
    states = stepper.initial_states(int(batch))
    outputs = []
    for t in range(int(ops.shape(sequences)[1])):
        y, *states = stepper([sequences[:, t], *states])
        outputs.append(y)
    return ops.stack(outputs, axis=1)

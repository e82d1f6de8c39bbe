"""The video task's models: each reads `input_frames` frames and returns the next `output_frames`.

- `convlstm` (default): the encoder-forecaster of Shi et al. 2015 (section 3.2). Frames are first cut into
  non-overlapping patch_size x patch_size patches stacked as channels (the paper turns 64 x 64 frames into
  16 x 16 x 16 tensors), which shrinks the grid the recurrence runs on. A stack of `ConvLSTM` layers
  (this project's, with the paper's peepholes) encodes the input frames; the final states of encoder layer
  i start forecaster layer i, and the forecaster stack unrolls the future with no input of its own (a zero
  input: W_x * 0 = 0, only the gate biases remain). A 1 x 1 convolution over the forecaster layers'
  concatenated hidden states gives each predicted frame (sigmoid: pixels in [0, 1]), patches put back.
- `convlstm_simple`: stacked `keras.layers.ConvLSTM2D` and a Conv3D head predicting frame t + 1 from the
  frames up to t (the keras-io next-frame example); after the input frames it reads its own predictions
  back, one frame at a time, for the rest of the horizon.
- `fc_lstm`: the paper's baseline: every frame flattened to a vector, an LSTM encoder-forecaster of the
  same shape as `convlstm`'s, and a dense layer from the concatenated hidden states to the pixels.

`rollout` runs any of them past the horizon it was trained for: it predicts, appends the prediction to the
frames it reads, and predicts again.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from keras_recurrent.tasks.base import UserError, hparam


@dataclass
class VideoModel:
    """Section `model` of the video task."""

    filters: int = hparam(32, help="convlstm / convlstm_simple: channels of every recurrent layer's state", min=1)
    kernel_size: int = hparam(3, help="convlstm / convlstm_simple: size of the state-to-state and input-to-state kernels", min=1)
    num_layers: int = hparam(2, help="recurrent layers in the encoder (and in the forecaster)", min=1, max=6)
    patch_size: int = hparam(4, help="frames are cut into patches of this size, stacked as channels (1: none)", min=1)
    peepholes: bool = hparam(True, help="convlstm: the paper's Hadamard peephole terms")
    units: int = hparam(64, help="fc_lstm: units of every LSTM layer", min=1)
    loss: str = hparam("binary_crossentropy", help="per-pixel loss (the paper's cross-entropy, or squared error)",
                       choices=("binary_crossentropy", "mse"))


def _patched_shape(info: dict, patch: int) -> tuple[int, int, int]:
    rows, columns, channels = info["frame_shape"]
    if rows % patch or columns % patch:
        raise UserError(f"model.patch_size={patch}: frames of {rows}x{columns} do not divide into {patch}x{patch} patches")
    return rows // patch, columns // patch, channels * patch * patch


def to_patches(frames, steps: int, info: dict, patch: int):
    """(batch, steps, rows, columns, c) -> (batch, steps, rows / p, columns / p, c p^2): space to depth."""
    rows, columns, channels = info["frame_shape"]
    if patch == 1:
        return frames
    x = keras.layers.Reshape((steps, rows // patch, patch, columns // patch, patch, channels))(frames)
    x = keras.layers.Permute((1, 2, 4, 3, 5, 6))(x)
    return keras.layers.Reshape((steps, *_patched_shape(info, patch)))(x)


def from_patches(patches, steps: int, info: dict, patch: int):
    """The inverse of `to_patches` (the same permutation undoes itself)."""
    rows, columns, channels = info["frame_shape"]
    if patch == 1:
        return patches
    x = keras.layers.Reshape((steps, rows // patch, columns // patch, patch, patch, channels))(patches)
    x = keras.layers.Permute((1, 2, 4, 3, 5, 6))(x)
    return keras.layers.Reshape((steps, rows, columns, channels), name="frames")(x)


def _last_step(sequence, steps: int):
    """(batch, steps, ...) -> (batch, 1, ...): the last step, as a one-step sequence."""
    return keras.layers.Cropping3D(((steps - 1, 0), (0, 0), (0, 0)))(sequence)


def build_convlstm(config: VideoModel, info: dict):
    """The encoder-forecaster of Shi et al. 2015 over patches."""
    from keras_recurrent.layers import ConvLSTM

    info["loss"] = config.loss
    k_in, k_out, patch = info["input_frames"], info["output_frames"], config.patch_size
    grid = _patched_shape(info, patch)
    inputs = keras.Input((k_in, *info["frame_shape"]), name="frames_in")
    x = patched = to_patches(inputs, k_in, info, patch)
    states = []
    for i in range(config.num_layers):
        x, h, c = ConvLSTM(config.filters, config.kernel_size, peepholes=config.peepholes, return_sequences=True,
                           return_state=True, name=f"encoder_{i + 1}")(x)
        states.append([h, c])
    # The forecaster's first layer has no input (section 3.2): a zero sequence of the horizon's length,
    # made from the input by layers that save and load anywhere (a Lambda would not load in safe mode).
    silent = keras.layers.Rescaling(0.0)(_last_step(patched, k_in))
    y = keras.layers.UpSampling3D((k_out, 1, 1), name="no_input")(silent)
    hidden = []
    for i in range(config.num_layers):
        y = ConvLSTM(config.filters, config.kernel_size, peepholes=config.peepholes, return_sequences=True,
                     name=f"forecaster_{i + 1}")(y, initial_state=states[i])
        hidden.append(y)
    y = keras.layers.Concatenate()(hidden) if len(hidden) > 1 else hidden[0]
    y = keras.layers.Conv3D(grid[-1], 1, activation="sigmoid", name="to_pixels")(y)
    return keras.Model(inputs, from_patches(y, k_out, info, patch), name="convlstm_encoder_forecaster")


def build_convlstm_simple(config: VideoModel, info: dict):
    """Stacked ConvLSTM2D and a Conv3D head, one frame ahead at a time, reading its predictions back."""
    info["loss"] = config.loss
    k_in, k_out, patch = info["input_frames"], info["output_frames"], config.patch_size
    grid = _patched_shape(info, patch)
    inputs = keras.Input((k_in, *info["frame_shape"]), name="frames_in")
    layers = [keras.layers.ConvLSTM2D(config.filters, config.kernel_size, padding="same", return_sequences=True,
                                      return_state=True, name=f"conv_lstm_{i + 1}") for i in range(config.num_layers)]
    head = keras.layers.Conv3D(grid[-1], (1, 3, 3), padding="same", activation="sigmoid", name="next_frame")
    x, states, steps = to_patches(inputs, k_in, info, patch), [None] * len(layers), k_in
    frames = []
    for _ in range(k_out):
        for i, layer in enumerate(layers):
            x, h, c = layer(x, initial_state=states[i])
            states[i] = [h, c]
        x = head(_last_step(x, steps) if steps > 1 else x)  # the next frame, which is also the next input
        frames.append(x)
        steps = 1
    y = keras.layers.Concatenate(axis=1)(frames) if len(frames) > 1 else frames[0]
    return keras.Model(inputs, from_patches(y, k_out, info, patch), name="convlstm_simple")


def build_fc_lstm(config: VideoModel, info: dict):
    """The paper's FC-LSTM baseline: flattened frames through an LSTM encoder-forecaster."""
    info["loss"] = config.loss
    k_in, k_out = info["input_frames"], info["output_frames"]
    pixels = int(np.prod(info["frame_shape"]))
    inputs = keras.Input((k_in, *info["frame_shape"]), name="frames_in")
    x = keras.layers.Reshape((k_in, pixels))(inputs)
    states = []
    for i in range(config.num_layers):
        x, h, c = keras.layers.LSTM(config.units, return_sequences=True, return_state=True, name=f"encoder_{i + 1}")(x)
        states.append([h, c])
    y = keras.layers.RepeatVector(k_out, name="no_input")(keras.layers.Rescaling(0.0)(states[0][0]))
    hidden = []
    for i in range(config.num_layers):
        y = keras.layers.LSTM(config.units, return_sequences=True, name=f"forecaster_{i + 1}")(y, initial_state=states[i])
        hidden.append(y)
    y = keras.layers.Concatenate()(hidden) if len(hidden) > 1 else hidden[0]
    y = keras.layers.Dense(pixels, activation="sigmoid", name="to_pixels")(y)
    return keras.Model(inputs, keras.layers.Reshape((k_out, *info["frame_shape"]), name="frames")(y), name="fc_lstm")


MODELS = {"convlstm": build_convlstm, "convlstm_simple": build_convlstm_simple, "fc_lstm": build_fc_lstm}


def rollout(model, frames: np.ndarray, horizon: int, batch_size: int = 16) -> np.ndarray:
    """`horizon` future frames from `frames` (n, >= input_frames, rows, columns, channels): the model's
    own horizon at a time, each prediction appended to the frames it reads next."""
    k_in = model.inputs[0].shape[1]
    if frames.shape[1] < k_in:
        raise UserError(f"the model reads {k_in} frames; got {frames.shape[1]}")
    window, predicted = frames[:, -k_in:].astype(np.float32), []
    while sum(p.shape[1] for p in predicted) < horizon:
        step = model.predict(window, batch_size=batch_size, verbose=0)
        predicted.append(step)
        window = np.concatenate([window, step], axis=1)[:, -k_in:]
    return np.concatenate(predicted, axis=1)[:, :horizon]


__all__ = ["MODELS", "VideoModel", "rollout"]

"""The captioning model: a CNN encoder, a bidirectional LSTM over its feature grid, and an attention decoder
trained with teacher forcing (after Xu et al., "Show, Attend and Tell", ICML 2015).

    image (size, size, 3) in [0, 1]
      -> CNN (a small one trained from scratch, or a keras.applications backbone): a g x g grid of features
      -> the grid read as a sequence of g^2 positions (row by row) by a bidirectional LSTM: keys e_j that
         each know the whole image, and the final states of both directions
    words_in (max_length + 1,): <start> w_1 ... w_n, then padding (teacher forcing: the true previous words)
      -> embedding -> decoder (an LSTM started from the BiLSTM's final states, or another recurrent layer of
         the shared registry, conditioned on them at every step)
      -> soft additive attention over the keys (`layers.AdditiveAttention`), the context z_t
      -> the paper's deep output, L_o(E y_{t-1} + L_h h_t + L_z z_t): logits over the vocabulary.

The attention reads the decoder's state of the same step (Luong et al.'s order: the decoder runs over the
whole sentence in one call, which trains faster than feeding each context back into the next step); the
model stays causal, so step t's logits depend on words_in[:t + 1] only, which decoding relies on.

The model is two nested models, so decoding runs the image encoder once per image and only the decoder per
step: `image_encoder` (image -> [keys, state]) and `caption_decoder` ([keys, state, words_in] -> [logits,
attention weights]); the trained model joins them and outputs the logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from keras_recurrent.tasks.base import UserError, hparam

# Recurrent layers of the shared registry that can decode: causal, one direction (SRU++ attends both ways).
DECODERS = ("lstm", "gru", "simple_rnn", "mogrifier", "sru", "ntm")
BACKBONES = ("small", "mobilenet_v2", "efficientnet_b0")


@dataclass
class CaptioningModel:
    """Section `model` of the captioning task."""

    backbone: str = hparam("small", help="image encoder: a small CNN trained from scratch, or a keras.applications "
                                         "network", choices=BACKBONES)
    backbone_weights: str = hparam("", help="keras.applications backbone: imagenet (Keras's ImageNet weights, fetched on "
                                            "first use into the Keras cache), a local weights file (.h5 / .weights.h5, "
                                            "include_top=False), or empty: random initial weights")
    train_backbone: bool = hparam(True, help="keras.applications backbone: train its weights too (off: frozen)")
    filters: int = hparam(16, help="small CNN: filters of its first block (doubled in each next block)", min=1)
    grid: int = hparam(8, help="small CNN: rows and columns of the feature grid the BiLSTM reads", min=1)
    encoder_units: int = hparam(128, help="units of each direction of the BiLSTM over the grid", min=1)
    decoder: str = hparam("lstm", help="recurrent layer that writes the caption", choices=DECODERS)
    units: int = hparam(256, help="units of the decoder", min=1)
    embedding_dim: int = hparam(128, help="width of the word embedding and of the deep output", min=1)
    attention: bool = hparam(True, help="soft attention over the grid (off: the BiLSTM's final states only)")
    attention_units: int = hparam(64, help="hidden width of the additive attention score; 0 = units", min=0)
    dropout: float = hparam(0.2, help="dropout on the embedded words and on the deep output", min=0.0, max=0.9)
    beam_width: int = hparam(3, help="decoding: 1 = greedy, more = beam search with this many hypotheses", min=1, at_use=True)


def _small_cnn(image, config: CaptioningModel, size: int):
    blocks = math.log2(size / config.grid) if size % config.grid == 0 else -1
    if blocks < 0 or blocks != int(blocks):
        raise UserError(f"model.grid={config.grid}: the small CNN halves data.image_size={size} in each block, so the "
                        f"grid must be the size divided by a power of 2 (for example {size // 8 or 1})")
    x = image
    for i in range(int(blocks)):
        filters = config.filters * 2 ** i
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{i + 1}a")(x)
        if i:  # the first block, at full resolution, has one convolution: the second would cost the most of all
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{i + 1}b")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i + 1}")(x)
    return keras.layers.Conv2D(config.filters * 2 ** int(blocks), 1, activation="relu", name="grid")(x)


def _application(image, config: CaptioningModel, size: int):
    """A keras.applications network without its classifier; its last feature map is the grid."""
    import os

    from keras_recurrent.tasks import assets

    weights = config.backbone_weights or None
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise UserError(f"model.backbone_weights={weights}: no such file (give a local weights file, imagenet to "
                        f"fetch Keras's ImageNet weights, or leave it empty for random initial weights)")
    if config.backbone == "mobilenet_v2":
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus_one_one")(image)  # what MobileNetV2 expects
        make = keras.applications.MobileNetV2
    else:
        x = keras.layers.Rescaling(255.0, name="to_0_255")(image)  # EfficientNet normalises inside
        make = keras.applications.EfficientNetB0
    arguments = {"input_shape": (size, size, 3), "include_top": False}
    try:
        if weights == "imagenet":
            # Keras's own URL, file name and hash, fetched through the project's one download path. MobileNetV2
            # has ImageNet weights for inputs of 96 to 224 pixels; Keras loads the 224 ones for other sizes (a
            # convolutional network's weights do not depend on the input's size).
            network = assets.keras_application(make, "model.backbone_weights=imagenet", **arguments)
        else:
            network = make(weights=weights, **arguments)
    except (ValueError, OSError) as e:
        raise UserError(f"model.backbone={config.backbone}: {' '.join(str(e).split())[:200]}") from None
    network.trainable = config.train_backbone
    return keras.layers.Identity(name="grid")(network(x))


def build_image_encoder(config: CaptioningModel, info: dict):
    """image -> [keys (positions, 2 encoder_units), state (4 encoder_units)]."""
    size = info["image_size"]
    image = keras.Input((size, size, 3), name="image")
    if config.backbone == "small" and config.backbone_weights:
        raise UserError(f"model.backbone_weights={config.backbone_weights}: the small CNN is trained from scratch; "
                        f"pretrained weights need a keras.applications backbone ({', '.join(BACKBONES[1:])})")
    grid = _small_cnn(image, config, size) if config.backbone == "small" else _application(image, config, size)
    rows, columns, channels = grid.shape[1:]
    positions = keras.layers.Reshape((rows * columns, channels), name="grid_as_sequence")(grid)
    keys, fh, fc, bh, bc = keras.layers.Bidirectional(
        keras.layers.LSTM(config.encoder_units, return_sequences=True, return_state=True), name="bilstm")(positions)
    state = keras.layers.Concatenate(name="final_states")([fh, bh, fc, bc])
    return keras.Model(image, [keys, state], name="image_encoder")


def build_caption_decoder(config: CaptioningModel, info: dict, keys_shape, state_width: int):
    """[keys, state, words_in] -> [logits (steps, vocabulary), attention weights (steps, positions)]."""
    from keras_recurrent.layers import AdditiveAttention
    from keras_recurrent.tasks.encoders import RECURRENT_ENCODERS

    vocabulary, steps = len(info["vocabulary"]), info["max_length"] + 1
    keys = keras.Input(keys_shape, name="keys")
    state = keras.Input((state_width,), name="state")
    words = keras.Input((steps,), dtype="int32", name="words_in")
    embedded = keras.layers.Embedding(vocabulary, config.embedding_dim, name="embedding")(words)
    embedded = keras.layers.Dropout(config.dropout, name="word_dropout")(embedded)
    if config.decoder == "lstm":
        h0 = keras.layers.Dense(config.units, activation="tanh", name="initial_h")(state)
        c0 = keras.layers.Dense(config.units, name="initial_c")(state)
        decoded = keras.layers.LSTM(config.units, return_sequences=True, name="decoder")(embedded, initial_state=[h0, c0])
    else:
        # Layers without a hand-over of LSTM state read the image's summary beside every word.
        summary = keras.layers.Dense(config.embedding_dim, activation="tanh", name="image_summary")(state)
        repeated = keras.layers.RepeatVector(steps, name="summary_each_step")(summary)
        x = keras.layers.Concatenate(name="word_and_image")([embedded, repeated])
        decoded = RECURRENT_ENCODERS[config.decoder](config.units, True, 0.0, name="decoder")(x)
    deep = [embedded, keras.layers.Dense(config.embedding_dim, use_bias=False, name="from_state")(decoded)]
    outputs = []
    if config.attention:
        context, weights = AdditiveAttention(config.attention_units or config.units, name="attention")([keys, decoded])
        deep.append(keras.layers.Dense(config.embedding_dim, use_bias=False, name="from_context")(context))
        outputs.append(weights)
    x = keras.layers.Add(name="deep_output")(deep)
    x = keras.layers.Dropout(config.dropout, name="output_dropout")(x)
    logits = keras.layers.Dense(vocabulary, name="logits")(x)
    return keras.Model([keys, state, words], [logits, *outputs], name="caption_decoder")


def build_cnn_bilstm(config: CaptioningModel, info: dict):
    """The trained model: [image, words_in] -> logits (steps, vocabulary)."""
    encoder = build_image_encoder(config, info)
    keys_shape, state_width = encoder.outputs[0].shape[1:], encoder.outputs[1].shape[-1]
    decoder = build_caption_decoder(config, info, keys_shape, state_width)
    size = info["image_size"]
    image = keras.Input((size, size, 3), name="image")
    words = keras.Input((info["max_length"] + 1,), dtype="int32", name="words_in")
    keys, state = encoder(image)
    outputs = decoder([keys, state, words])
    logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    name = f"cnn_bilstm_{config.decoder}" + ("_attention" if config.attention else "")
    return keras.Model([image, words], keras.layers.Identity(name="caption_logits")(logits), name=name)


MODELS = {"cnn_bilstm": build_cnn_bilstm}

__all__ = ["BACKBONES", "CaptioningModel", "DECODERS", "MODELS", "build_cnn_bilstm"]

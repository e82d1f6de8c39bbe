"""Self-supervised pretraining of a text classifier's embedding and recurrent encoder as a language model.

Dai & Le (2015), "Semi-supervised Sequence Learning" (arXiv:1511.01432): initialise the classifier's
recurrent network with the weights of a language model trained on the same texts (and any unlabeled
ones) and then fine-tune on the labels; Howard & Ruder (2018), "Universal Language Model Fine-tuning
for Text Classification" (arXiv:1801.06146), do the same at scale. Here the language model is built from
the classifier's own layer recipe (same names, same shapes) with every recurrent layer returning its
sequence, trained, and its weights copied into the classifier by layer name:

- a forward encoder's state at step t predicts token t+1;
- a bidirectional encoder is two language models (Peters et al. 2018, ELMo): the forward half at step t
  predicts token t+1, the backward half predicts token t-1. Only its first layer is pretrained: a second
  bidirectional layer reads both halves of the first, so its forward half would see the token it is
  asked to predict.

Both predictions go through a softmax over the `output_vocabulary` most frequent tokens (the rest count
as the out-of-vocabulary id), which keeps the cost of the output layer at a fraction of the full
vocabulary's. Padding (id 0) is never a target, and a padded step never predicts.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.base import UserError

# Encoders whose state at step t depends on tokens after t other than through a separate backward half:
# they cannot be trained to predict the next token.
NOT_CAUSAL = {"srupp": "srupp attends over the whole sentence"}


def language_model_targets(ids: np.ndarray, output_vocabulary: int, bidirectional: bool):
    """Targets and weights for a batch of right-padded token ids (batch, time).

    Returns (targets, weights), each (batch, time) or (batch, 2 * time) for a bidirectional encoder
    (forward predictions first, then backward ones): the next (previous) token, clipped to the output
    vocabulary (rarer ids become 1, the out-of-vocabulary id), weight 1 where both the reading step and
    the predicted token are real tokens.
    """
    ids = np.asarray(ids, dtype="int64")
    clipped = np.where(ids >= output_vocabulary, 1, ids)
    real = ids != 0
    following = np.zeros_like(clipped)
    following[:, :-1] = clipped[:, 1:]
    targets, weights = [following], [real & (following != 0)]
    if bidirectional:
        preceding = np.zeros_like(clipped)
        preceding[:, 1:] = clipped[:, :-1]
        targets.append(preceding)
        weights.append(real & (preceding != 0))
    return np.concatenate(targets, axis=1), np.concatenate(weights, axis=1).astype("float32")


def build_language_model(classifier, kind: str, make_encoder, units: int, num_layers: int, dropout: float,
                         output_vocabulary: int):
    """The classifier's embedding and encoder recipe with a next-token softmax on top.

    `make_encoder(kind, x, units, num_layers, dropout, return_sequences=True)` must name its layers as
    the classifier's builder did, so weights can be copied back by name. Returns (model, names of the
    layers to copy back, whether the encoder is bidirectional).
    """
    import keras

    if kind in NOT_CAUSAL:
        raise UserError(f"model.pretrain_epochs: {NOT_CAUSAL[kind]}, so it cannot be pretrained as a language "
                        f"model; choose a recurrent model or set model.pretrain_epochs=0")
    source = classifier.get_layer("embedding")
    length = classifier.inputs[0].shape[1]
    tokens = keras.Input(shape=(length,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(source.input_dim, source.output_dim, mask_zero=True, name="embedding",
                                       trainable=source.trainable)
    x = embedding(tokens)
    embedding.set_weights(source.get_weights())  # pretrained vectors, if the classifier was given some
    bidirectional = isinstance(classifier.get_layer(f"{kind}_1"), keras.layers.Bidirectional)
    layers = 1 if bidirectional else num_layers
    x = make_encoder(kind, x, units, layers, dropout, return_sequences=True)
    x = keras.layers.Dropout(dropout, name="lm_dropout")(x)
    if bidirectional:
        forward = keras.layers.Dense(output_vocabulary, name="next_token")(x[..., :units])
        backward = keras.layers.Dense(output_vocabulary, name="previous_token")(x[..., units:])
        logits = keras.layers.Concatenate(axis=1, name="both_directions")([forward, backward])
    else:
        logits = keras.layers.Dense(output_vocabulary, name="next_token")(x)
    model = keras.Model(tokens, logits, name=f"{classifier.name}_language_model")
    copied = ["embedding"] + [f"{kind}_{i + 1}" for i in range(layers)]
    return model, copied, bidirectional


def pretrain(classifier, texts_ids: np.ndarray, *, kind: str, make_encoder, units: int, num_layers: int,
             dropout: float, epochs: int, output_vocabulary: int, batch_size: int, learning_rate: float,
             seed: int, validation_ids: np.ndarray | None = None, verbose: int = 0) -> dict:
    """Train the language model on `texts_ids` (right-padded token ids) and copy its weights into the
    classifier. Returns a JSON-able record: per-epoch loss and perplexity, the layers copied."""
    import keras
    import tensorflow as tf

    vocabulary = classifier.get_layer("embedding").input_dim
    output_vocabulary = int(min(output_vocabulary, vocabulary))
    model, copied, bidirectional = build_language_model(classifier, kind, make_encoder, units, num_layers,
                                                        dropout, output_vocabulary)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  # The mean over predicted tokens (not over padded positions too): a per-token loss, so exp() is a perplexity.
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
                  weighted_metrics=[])

    def dataset(ids, shuffle):
        targets, weights = language_model_targets(ids, output_vocabulary, bidirectional)
        ds = tf.data.Dataset.from_tensor_slices((ids.astype("int32"), targets.astype("int32"), weights))
        if shuffle:
            ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    history = model.fit(dataset(texts_ids, True), epochs=epochs, verbose=verbose, shuffle=False,
                        validation_data=None if validation_ids is None else dataset(validation_ids, False))
    for name in copied:
        classifier.get_layer(name).set_weights(model.get_layer(name).get_weights())
    record = {
        "objective": "bidirectional language model" if bidirectional else "language model",
        "texts": int(len(texts_ids)),
        "epochs": int(epochs),
        "output_vocabulary": output_vocabulary,
        "layers_copied": copied,
        "loss": [round(float(v), 4) for v in history.history["loss"]],
    }
    if "val_loss" in history.history:
        record["validation_loss"] = [round(float(v), 4) for v in history.history["val_loss"]]
        record["validation_perplexity"] = round(float(np.exp(history.history["val_loss"][-1])), 2)
    return record

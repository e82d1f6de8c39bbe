"""Writing captions with a trained model: greedy decoding and beam search.

The image encoder runs once per image. The decoder is causal (its step t reads words_in[:t + 1]), so each
step runs it on the words chosen so far, padded to the model's fixed length (one compiled function for
every step, whichever recurrent layer decodes), and reads row t. Token ids: 0 padding, 1 unknown,
2 <start>, 3 <end> (`vocabulary.py`).
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.beam import extend

PAD, UNKNOWN, START, END = 0, 1, 2, 3
# A caption goes on with a word or ends: padding and <start> are never written, nor <unk> (the model learns it
# from the rare words it stands for, and a caption that says "<unk>" tells the reader nothing).
NEVER_WRITTEN = [PAD, UNKNOWN, START]


def parts(model):
    """(image encoder, caption decoder) of a trained captioning model."""
    return model.get_layer("image_encoder"), model.get_layer("caption_decoder")


def _batched(fn, arrays, batch_size):
    """`fn` over chunks of `batch_size` rows, each padded to a power of two (at least 8): a few input shapes, so a
    backend that compiles per shape (JAX) compiles a few times, however many images and hypotheses there are."""
    outputs = None
    for start in range(0, len(arrays[0]), batch_size):
        chunk = [a[start:start + batch_size] for a in arrays]
        rows = len(chunk[0])
        padded = min(batch_size, max(8, 1 << (rows - 1).bit_length()))
        if padded > rows:
            chunk = [np.concatenate([c, np.repeat(c[-1:], padded - rows, axis=0)]) for c in chunk]
        out = fn(chunk)
        out = [np.asarray(o)[:rows] for o in (out if isinstance(out, (list, tuple)) else [out])]
        outputs = [[o] for o in out] if outputs is None else [acc + [o] for acc, o in zip(outputs, out)]
    return [np.concatenate(o) for o in outputs]


def encode(model, images: np.ndarray, batch_size: int = 64):
    """[keys, state] of each image (images uint8 or floats in [0, 1])."""
    encoder, _ = parts(model)
    images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    return _batched(lambda a: encoder.predict_on_batch(a[0]), [images], batch_size)


def _step(decoder, keys, state, words, t, batch_size):
    """Log-probabilities of the word at step t (n, vocabulary), and the attention of step t (n, positions) or None."""
    outputs = _batched(lambda a: decoder.predict_on_batch(a), [keys, state, words], batch_size)
    logits = outputs[0][:, t].astype(np.float64)
    logits -= logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return log_p, (outputs[1][:, t] if len(outputs) > 1 else None)


def greedy(model, images: np.ndarray, batch_size: int = 64):
    """(captions as lists of token ids without <start> / <end>, attention (n, steps, positions) or None)."""
    _, decoder = parts(model)
    keys, state = encode(model, images, batch_size)
    n, steps = len(images), decoder.inputs[2].shape[1]
    words = np.zeros((n, steps), np.int32)
    words[:, 0] = START
    chosen = np.full((n, steps), PAD, np.int32)
    attention = []
    for t in range(steps):
        log_p, weights = _step(decoder, keys, state, words, t, batch_size)
        log_p[:, NEVER_WRITTEN] = -np.inf
        chosen[:, t] = log_p.argmax(-1)
        if weights is not None:
            attention.append(weights)
        if t + 1 < steps:
            words[:, t + 1] = chosen[:, t]
        if (chosen[:, :t + 1] == END).any(-1).all():
            break
    maps = np.stack(attention, 1) if attention else None
    return [_caption(row) for row in chosen], maps


def beam_search(model, images: np.ndarray, width: int, batch_size: int = 64, return_scores: bool = False):
    """Captions (lists of token ids) by beam search of `width` hypotheses per image (with `return_scores`, also
    each caption's log-probability, <end> included).

    Each step extends every live hypothesis by every word and keeps the `width` most probable by summed
    log-probability; a hypothesis that wrote <end> is complete and carried along at no further cost. The most
    probable complete hypothesis wins (one cut off at the maximum length competes as it stands).
    """
    if width <= 1 and not return_scores:
        return greedy(model, images, batch_size)[0]
    _, decoder = parts(model)
    keys, state = encode(model, images, batch_size)
    n, steps = len(images), decoder.inputs[2].shape[1]
    keys, state = np.repeat(keys, width, axis=0), np.repeat(state, width, axis=0)
    words = np.zeros((n, width, steps), np.int32)
    words[..., 0] = START
    chosen = np.full((n, width, steps), PAD, np.int32)
    score = np.full((n, width), -np.inf)
    score[:, 0] = 0.0  # one live hypothesis at the start, so the beam does not fill with copies of it
    done = np.zeros((n, width), bool)
    rows = np.arange(n)[:, None]
    for t in range(steps):
        log_p, _ = _step(decoder, keys, state, words.reshape(n * width, steps), t, batch_size)
        vocabulary = log_p.shape[-1]
        log_p = log_p.reshape(n, width, vocabulary)
        log_p[..., NEVER_WRITTEN] = -np.inf
        score, source, word = extend(score, log_p, done, finished_token=PAD)  # a complete caption only pads on
        words, chosen, done = words[rows, source], chosen[rows, source], done[rows, source]
        chosen[..., t] = word
        if t + 1 < steps:
            words[..., t + 1] = word
        done = done | (word == END)
        if done[np.isfinite(score)].all():
            break
    captions, scores = [], []
    for i in range(n):
        live = np.isfinite(score[i])
        ranked = [k for k in np.argsort(-score[i], kind="stable") if live[k] and done[i, k]] or [int(np.argmax(score[i]))]
        captions.append(_caption(chosen[i, ranked[0]]))
        scores.append(float(score[i, ranked[0]]))
    return (captions, scores) if return_scores else captions


def _caption(row: np.ndarray) -> list[int]:
    ends = np.flatnonzero((row == END) | (row == PAD))
    return [int(w) for w in row[: ends[0] if len(ends) else len(row)]]


__all__ = ["END", "NEVER_WRITTEN", "PAD", "START", "UNKNOWN", "beam_search", "encode", "greedy", "parts"]

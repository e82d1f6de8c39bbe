"""Scores of captions: corpus BLEU-1..4 against every reference (nltk's implementation, Papineni et al.
2002: clipped n-gram precisions over the whole corpus, geometric mean, brevity penalty from the reference
closest in length), exact match; and the two baselines every captioning result stands beside."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np


def bleu(hypotheses: list[list[str]], references: list[list[list[str]]]) -> dict:
    """Corpus BLEU-1 to BLEU-4 (in [0, 1]); a hypothesis is a list of words, each image has a list of references."""
    from nltk.translate.bleu_score import corpus_bleu

    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns when a corpus has no matching 4-gram: BLEU-4 is then 0
        for n in range(1, 5):
            # Rounded: with no matching n-gram nltk returns a vanishing number (1e-155) rather than 0.
            scores[f"bleu_{n}"] = round(float(corpus_bleu(references, hypotheses, weights=tuple([1.0 / n] * n))), 6)
    return scores


def scores(hypotheses, references) -> dict:
    exact = np.mean([any(h == r for r in refs) for h, refs in zip(hypotheses, references)]) if hypotheses else 0.0
    return {**bleu(hypotheses, references), "exact_match": float(exact),
            "mean_length": float(np.mean([len(h) for h in hypotheses])) if hypotheses else 0.0}


def most_frequent_caption(train_references: list[list[list[str]]]) -> list[str]:
    """The training caption written most often; ties (photographs rarely share a caption) go to the most typical
    one, the highest mean log-frequency of its words in the training captions."""
    captions = Counter(tuple(r) for refs in train_references for r in refs if r)
    words = Counter(w for refs in train_references for r in refs for w in r)
    total = sum(words.values())

    def typical(caption):
        return sum(math.log(words[w] / total) for w in caption) / len(caption)

    top = max(captions.values())
    return list(max((c for c, k in captions.items() if k == top), key=lambda c: (typical(c), c)))


def nearest_training_captions(model, train, test_images: np.ndarray) -> list[list[str]]:
    """For each test image, a caption of the training image nearest to it (cosine) in the feature space of
    the model's image encoder (its CNN grid, averaged over positions): of that image's captions, the one
    closest to the others (highest BLEU against them), as in Devlin et al. 2015's consensus choice."""
    import keras
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from keras_recurrent.tasks.captioning.sources import tokenize

    encoder = model.get_layer("image_encoder")
    features = keras.Model(encoder.inputs, encoder.get_layer("grid").output)

    def embed(images):
        out = np.concatenate([np.asarray(features.predict_on_batch(images[i:i + 64].astype(np.float32) / 255.0))
                              for i in range(0, len(images), 64)])
        out = out.reshape(len(images), -1, out.shape[-1]).mean(1)
        return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)

    nearest = (embed(test_images) @ embed(train.images).T).argmax(-1)
    smooth = SmoothingFunction().method1
    chosen = {}
    for j in set(nearest.tolist()):
        refs = [tokenize(r) for r in train.references[j]]
        if len(refs) == 1:
            chosen[j] = refs[0]
            continue
        consensus = [sentence_bleu(refs[:k] + refs[k + 1:], refs[k], smoothing_function=smooth) for k in range(len(refs))]
        chosen[j] = refs[int(np.argmax(consensus))]
    return [chosen[j] for j in nearest.tolist()]


__all__ = ["bleu", "most_frequent_caption", "nearest_training_captions", "scores"]

"""The NTM paper's algorithmic tasks as arrays (Graves, Wayne & Danihelka 2014, sections 4.1 and 4.3).

Every example is (inputs, targets, weights): inputs (steps, bits + 2) with two delimiter channels after
the data bits, targets (steps, bits) and weights (steps,), 1 where the model's output is scored (the
answer) and 0 elsewhere. Examples of one batch have different lengths: they are padded at the end with
all-zero input steps of weight 0 (the models mask them).

- copy: L random bit vectors, then a delimiter step (channel `bits`); then L blank steps during which the
  model writes the L vectors back. 2 L + 1 steps.
- associative recall: items of `item_length` random bit vectors, each item opened by a delimiter step
  (channel `bits`); then the query (one of the items but the last) between two query delimiters (channel
  `bits + 1`); then `item_length` blank steps during which the model writes the item that followed the
  query. (items x (item_length + 1)) + item_length + 2 + item_length steps.
"""

from __future__ import annotations

import numpy as np


def copy_example(rng, length: int, bits: int):
    data = rng.integers(0, 2, size=(length, bits)).astype(np.float32)
    steps = 2 * length + 1
    inputs = np.zeros((steps, bits + 2), np.float32)
    targets = np.zeros((steps, bits), np.float32)
    weights = np.zeros(steps, np.float32)
    inputs[:length, :bits] = data
    inputs[length, bits] = 1.0
    targets[length + 1:] = data
    weights[length + 1:] = 1.0
    return inputs, targets, weights


def recall_example(rng, items: int, bits: int, item_length: int):
    data = rng.integers(0, 2, size=(items, item_length, bits)).astype(np.float32)
    query = int(rng.integers(0, items - 1))
    block = item_length + 1
    steps = items * block + 2 + 2 * item_length
    inputs = np.zeros((steps, bits + 2), np.float32)
    targets = np.zeros((steps, bits), np.float32)
    weights = np.zeros(steps, np.float32)
    for i in range(items):
        inputs[i * block, bits] = 1.0
        inputs[i * block + 1:(i + 1) * block, :bits] = data[i]
    start = items * block
    inputs[start, bits + 1] = 1.0
    inputs[start + 1:start + 1 + item_length, :bits] = data[query]
    inputs[start + 1 + item_length, bits + 1] = 1.0
    targets[start + 2 + item_length:] = data[query + 1]
    weights[start + 2 + item_length:] = 1.0
    return inputs, targets, weights


def pad(examples, steps: int | None = None):
    """Stack examples of different lengths, zero-padded at the end to `steps` (default: the longest)."""
    steps = steps or max(len(x) for x, _, _ in examples)
    channels, bits = examples[0][0].shape[1], examples[0][1].shape[1]
    inputs = np.zeros((len(examples), steps, channels), np.float32)
    targets = np.zeros((len(examples), steps, bits), np.float32)
    weights = np.zeros((len(examples), steps), np.float32)
    for i, (x, y, w) in enumerate(examples):
        inputs[i, :len(x)], targets[i, :len(y)], weights[i, :len(w)] = x, y, w
    return inputs, targets, weights


def bit_errors(outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Wrong bits per sequence: outputs thresholded at 0.5, counted where the weight is 1."""
    wrong = (outputs > 0.5) != (targets > 0.5)
    return (wrong * weights[..., None]).sum(axis=(1, 2))


__all__ = ["bit_errors", "copy_example", "pad", "recall_example"]

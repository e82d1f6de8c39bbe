"""Scores of predicted frames, by future frame and overall, accumulated batch by batch (a test split is
never held whole): mean squared error, PSNR and SSIM (tf.image.ssim) per frame, and the paper's
cross-entropy, summed over the pixels of a frame (Shi et al. 2015 report it summed over the 10 predicted
frames of a sequence: 3670.85 for their ConvLSTM, 4832.49 for FC-LSTM on Moving MNIST).
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7  # predictions clipped to [eps, 1 - eps] in the cross-entropy, as Keras's loss does


def frame_scores(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Per sequence and future frame: {name: (n, frames)} for truth / predictions (n, frames, r, c, ch) in [0, 1]."""
    import tensorflow as tf

    truth = truth.astype(np.float64)
    predicted = np.clip(predicted.astype(np.float64), 0.0, 1.0)
    axes = (2, 3, 4)
    mse = np.mean((truth - predicted) ** 2, axis=axes)
    p = np.clip(predicted, EPSILON, 1 - EPSILON)
    cross_entropy = -np.sum(truth * np.log(p) + (1 - truth) * np.log(1 - p), axis=axes)
    rows, columns = truth.shape[2:4]
    filter_size = min(11, rows, columns)
    ssim = tf.image.ssim(tf.constant(truth, tf.float32), tf.constant(predicted, tf.float32), max_val=1.0,
                         filter_size=filter_size).numpy()
    psnr = 10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))
    return {"mse": mse, "psnr": psnr, "ssim": ssim.astype(np.float64), "cross_entropy": cross_entropy}


class FrameScores:
    """Sums of `frame_scores` over every sequence seen; `summary()` gives the means."""

    def __init__(self):
        self.sums, self.count = {}, 0

    def add(self, truth, predicted) -> None:
        for name, values in frame_scores(truth, predicted).items():
            self.sums[name] = self.sums.get(name, 0.0) + values.sum(axis=0)
        self.count += len(truth)

    def by_frame(self) -> dict:
        return {name: (total / max(self.count, 1)).tolist() for name, total in self.sums.items()}

    def summary(self) -> dict:
        frames = self.by_frame()
        result = {name: float(np.mean(values)) for name, values in frames.items()}
        result["cross_entropy_per_sequence"] = float(np.sum(frames["cross_entropy"]))
        result.pop("cross_entropy")
        return result


__all__ = ["FrameScores", "frame_scores"]

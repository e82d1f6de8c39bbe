"""Pictures of the video task: strips of input, truth and predicted frames, each score by future frame
for the model beside the copy-last-frame baseline, and side-by-side animations."""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks import pictures
from keras_recurrent.tasks.pictures import counting


def _show(ax, frame):
    if frame.shape[-1] == 1:
        ax.imshow(frame[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(np.clip(frame, 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])


def strips(inputs: np.ndarray, truth: np.ndarray, predicted: np.ndarray, title: str):
    """For each clip, three rows: the input frames, the true future, the predicted future."""
    import matplotlib.pyplot as plt

    clips, k_in, k_out = len(inputs), inputs.shape[1], truth.shape[1]
    columns = max(k_in, k_out)
    fig, axes = plt.subplots(3 * clips, columns, figsize=(0.9 * columns + 0.8, 0.95 * 3 * clips + 0.5), squeeze=False)
    for c in range(clips):
        for row, (label, frames) in enumerate((("input", inputs[c]), ("truth", truth[c]), ("predicted", predicted[c]))):
            for t in range(columns):
                ax = axes[3 * c + row, t]
                if t < len(frames):
                    _show(ax, frames[t])
                else:
                    ax.axis("off")
            axes[3 * c + row, 0].set_ylabel(label, fontsize=7)
    pictures.title(fig, title)
    fig.tight_layout()
    return fig


def scores_by_frame(model: dict, baselines: dict, title: str):
    """One panel a score: the model's value at each future frame beside each baseline's."""
    import matplotlib.pyplot as plt

    names = [("mse", "mean squared error"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("cross_entropy", "cross-entropy")]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
    for ax, (key, label) in zip(axes, names):
        steps = np.arange(1, len(model[key]) + 1)
        ax.plot(steps, model[key], marker="o", label="model")
        for name, values in baselines.items():
            ax.plot(steps, values[key], marker=".", linestyle="--", label=name.replace("_", " "))
        ax.set_xlabel("future frame")
        counting(ax)
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def side_by_side(inputs: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """One clip as frames for a GIF: the input, then truth (left) beside the prediction (right), a bar between."""
    channels = inputs.shape[-1]
    bar = np.ones((*inputs.shape[1:3], 1))[:, :2].repeat(channels, -1) * 0.5
    observed = [np.concatenate([f, bar, f], axis=1) for f in inputs]
    future = [np.concatenate([t, bar, p], axis=1) for t, p in zip(truth, predicted)]
    return np.stack(observed + future)


__all__ = ["scores_by_frame", "side_by_side", "strips"]

"""The captioning task's pictures: images with the captions the model wrote, and where it looked for each word."""

from __future__ import annotations

import textwrap

import numpy as np


def caption_grid(images: np.ndarray, hypotheses: list[list[str]], references: list[str], title: str):
    """Up to 8 images in two rows, each with the model's caption (bold) and one reference."""
    import matplotlib.pyplot as plt

    count = len(images)
    columns = min(4, count)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 4.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, words, reference in zip(axes.ravel(), images, hypotheses, references):
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.imshow(image)
        ax.set_title("\n".join(textwrap.wrap(" ".join(words), 34)), fontsize=8, fontweight="bold")
        # The reference as the axis label, so that the layout makes room for it.
        ax.set_xlabel("\n".join(textwrap.wrap(f"ref: {reference}", 40)), fontsize=7, color="dimgray")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def attention_maps(images: np.ndarray, words: list[list[str]], attention: np.ndarray):
    """For each image, one panel per written word: the attention weights over the feature grid, upsampled and
    laid over the image (brighter: more weight)."""
    import matplotlib.pyplot as plt

    positions = attention.shape[-1]
    side = int(round(np.sqrt(positions)))
    longest = max(len(w) for w in words) + 1
    fig, axes = plt.subplots(len(images), longest, figsize=(1.6 * longest, 1.9 * len(images)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    shown = None
    top = max(float(np.max([maps[: len(sentence)].max() for sentence, maps in zip(words, attention) if len(sentence)]
                           or [0.0])), 1e-6)
    for row, (image, sentence, maps) in enumerate(zip(images, words, attention)):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title("image", fontsize=8)
        for t, word in enumerate(sentence[: maps.shape[0]]):
            ax = axes[row, t + 1]
            weights = maps[t].reshape(side, side) if side * side == positions else maps[t][None, :]
            ax.imshow(image)
            # One scale for every map of the figure (0 to the largest weight shown), so the colour bar reads
            # the same across words; a fixed 0-1 scale would leave 64 weights of about 1/64 all black.
            shown = ax.imshow(weights, cmap="magma", alpha=0.6, extent=(0, image.shape[1], image.shape[0], 0),
                              interpolation="bilinear", vmin=0.0, vmax=top)
            ax.set_title(word, fontsize=8)
    fig.suptitle("attention over the image for each word written (greedy decoding)", fontsize=9)
    fig.tight_layout()
    if shown is not None:
        fig.subplots_adjust(right=0.965)
        fig.colorbar(shown, cax=fig.add_axes([0.975, 0.15, 0.006, 0.7]), label="attention weight")
    return fig


__all__ = ["attention_maps", "caption_grid"]

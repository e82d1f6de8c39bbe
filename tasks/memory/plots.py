"""Pictures of the bit-sequence tasks: one example as the NTM paper draws it, and errors by size."""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.pictures import counting


def example(inputs, targets, outputs, weights, trace, problem: str):
    """Input, target and output over time (rows: channels); for an NTM also where its heads read and wrote."""
    import matplotlib.pyplot as plt

    panels = [("input", inputs.T), ("target", (targets * weights[:, None]).T), ("output", (outputs * weights[:, None]).T)]
    if trace is not None:
        panels += [("write weighting", trace["write_weightings"][0, :, 0].T),
                   ("read weighting", trace["read_weightings"][0, :, 0].T)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(0.12 * inputs.shape[0] + 3, 1.2 * len(panels) + 2.4),
                             squeeze=False, gridspec_kw={"height_ratios": [1, 1, 1, 2.5, 2.5][: len(panels)]})
    for ax, (title, image) in zip(axes[:, 0], panels):
        shown = ax.imshow(image, aspect="auto", cmap="gray_r" if "weighting" not in title else "magma",
                          interpolation="nearest", vmin=0, vmax=1 if "weighting" not in title else max(float(image.max()), 1e-6))
        fig.colorbar(shown, ax=ax, fraction=0.03, pad=0.01)
        ax.set_ylabel(title, fontsize=8)
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("time step")
    if trace is not None:
        axes[-1, 0].set_ylabel("read weighting\n(memory row)", fontsize=8)
    fig.suptitle(f"{problem}: one test sequence", fontsize=9)
    fig.tight_layout()
    return fig


def errors_by_size(sizes, errors, size_name: str, problem: str):
    import matplotlib.pyplot as plt

    values = sorted(np.unique(sizes))
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    ax.plot(values, [errors[sizes == v].mean() for v in values], marker="o")
    ax.set_xlabel(size_name)
    counting(ax)
    ax.set_ylabel("bit errors per sequence")
    ax.set_title(f"{problem}: errors by {size_name}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


__all__ = ["errors_by_size", "example"]

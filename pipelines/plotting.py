"""Pictures every task shares."""

from __future__ import annotations

from keras_recurrent.tasks.pictures import counting


def learning_curves(history: list[dict], title: str):
    """One panel per metric (loss, accuracy, ...), training and validation curves together."""
    import matplotlib.pyplot as plt

    metrics = [k for k in history[0] if k != "epoch" and not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    epochs = [r["epoch"] + 1 for r in history]
    for ax, metric in zip(axes[0], metrics):
        ax.plot(epochs, [r.get(metric) for r in history], marker="o", label="train")
        if f"val_{metric}" in history[0]:
            ax.plot(epochs, [r.get(f"val_{metric}") for r in history], marker="o", label="validation")
        ax.set_xlabel("epoch")
        counting(ax)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


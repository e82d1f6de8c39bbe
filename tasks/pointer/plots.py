"""Pictures of the pointer tasks: answers beside the exact ones, where the decoder pointed, score by size."""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.pictures import counting


def attention(points: np.ndarray, answer, probabilities: np.ndarray, problem: str):
    """The distribution each decoding step chose from: rows are steps, columns input positions."""
    import matplotlib.pyplot as plt

    n = len(points)
    steps = len(answer) + 1  # the answer's points, then the stop
    shown = probabilities[:steps, : n + 1]
    fig, ax = plt.subplots(figsize=(0.45 * n + 2.5, 0.4 * steps + 1.8))
    image = ax.imshow(shown, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(n + 1), ["stop"] + [str(i) for i in range(n)], rotation=90)
    ax.set_yticks(range(steps), [f"{i + 1}: {a}" for i, a in enumerate(answer)] + [f"{steps}: stop"])
    ax.set_xlabel("input position (point index)")
    ax.set_ylabel("decoding step: chosen point")
    ax.set_title(f"{problem}: where the pointer looked")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def polygons(instances, answers, truths, closed: bool, title: str, length=None):
    """Each instance twice: the model's polygon (left) and the exact one (right). With `length(points, order)`
    (a tour's), each panel shows its length and each row the model's gap to the exact tour: a tour equal to
    the optimal one but for its start or direction is optimal, not "differs"."""
    import matplotlib.pyplot as plt

    count = len(instances)
    fig, axes = plt.subplots(count, 2, figsize=(5.0, 2.5 * count), squeeze=False)
    for row, (points, answer, truth) in enumerate(zip(instances, answers, truths)):
        for ax, order, colour in ((axes[row, 0], answer, "tab:orange"), (axes[row, 1], truth, "tab:green")):
            ax.scatter(points[:, 0], points[:, 1], s=12, color="black", zorder=3)
            if len(order):
                path = points[np.append(order, order[0]) if closed else order]
                ax.plot(path[:, 0], path[:, 1], color=colour)
            for i, (x, y) in enumerate(points):
                ax.annotate(str(i), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
        if length is not None and len(answer):
            ours, best = length(points, answer), length(points, truth)
            axes[row, 0].set_title(f"model: {ours:.3f}", fontsize=7)
            axes[row, 1].set_title(f"optimal: {best:.3f}", fontsize=7)
            mark = f"gap {100.0 * (ours / best - 1.0):+.1f}%"
        else:
            mark = "exact" if np.array_equal(answer, truth) else "differs"
        axes[row, 0].set_ylabel(mark, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def sorted_values(instances, answers, truths):
    """Values in the order the model output them (bars), beside the sorted values (line)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(instances), 1, figsize=(5.0, 1.4 * len(instances)), squeeze=False)
    for ax, values, answer, truth in zip(axes[:, 0], instances, answers, truths):
        ax.bar(range(len(answer)), values[answer, 0], color="tab:orange", label="model's order")
        ax.plot(range(len(truth)), values[truth, 0], color="tab:green", marker="o", label="sorted")
        ax.set_ylim(0, 1)
        ax.set_xticks([])
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle("sort: values in the model's output order", fontsize=9)
    fig.tight_layout()
    return fig


def by_points(scores: dict, metric: str, problem: str):
    """The headline metric for each instance size."""
    import matplotlib.pyplot as plt

    sizes = sorted(scores, key=int)
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    ax.plot([int(n) for n in sizes], [scores[n] for n in sizes], marker="o")
    ax.set_xlabel("points an instance (n)")
    counting(ax)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{problem}: {metric.replace('_', ' ')} by n")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


__all__ = ["attention", "by_points", "polygons", "sorted_values"]

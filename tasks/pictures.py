"""Small helpers every picture shares (tasks draw their own; `pipelines.plotting` draws the learning curves)."""

from __future__ import annotations

import textwrap


def counting(ax, axis: str = "x") -> None:
    """Whole-number ticks on an axis that counts things (epochs, steps, frames, lengths): no 2.5th epoch."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def title(fig, text: str, fontsize: float = 9) -> None:
    """A figure title wrapped to the figure's width, so a narrow figure does not cut it at both ends."""
    width_chars = max(20, int(fig.get_figwidth() * 72 / (0.6 * fontsize)))
    fig.suptitle(textwrap.fill(text, width_chars), fontsize=fontsize)


__all__ = ["counting", "title"]

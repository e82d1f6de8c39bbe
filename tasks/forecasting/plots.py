"""The forecasting pictures: forecasts against the actual series, error by horizon step, MASE beside the classics."""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.pictures import counting
from keras_recurrent.tasks.pictures import title as picture_title


def _time_axis(series):
    return series.times if not series.frequency.startswith("step=") else np.asarray(series.times)


def forecast_figure(series, ev: dict, info: dict, title: str):
    """The test part with forecasts from non-overlapping origins (intervals shaded), one panel a target."""
    import matplotlib.pyplot as plt

    origins, forecasts = ev["origins"], ev["forecasts"]
    levels = info.get("quantiles") or []
    horizon, names = info["horizon"], info["targets"]
    times = _time_axis(series)
    first = max(0, int(origins[0]) - 3 * horizon)
    shown = np.arange(first, min(len(series.values), int(origins[-1]) + horizon))
    # Origins one horizon apart, so the paths tile the test part without overlapping.
    picks, next_free = [], -1
    for i, t in enumerate(origins):
        if t >= next_free:
            picks.append(i)
            next_free = t + horizon
    picks = picks[:40]
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 3.2 * len(names)), squeeze=False)
    for k, (ax, name) in enumerate(zip(axes[:, 0], names)):
        ax.plot(times[shown], series.values[shown, k], color="black", lw=1.2, label="actual")
        ax.axvline(times[int(origins[0])], color="grey", ls=":", lw=1, label="test part begins")
        ets = ev["baselines"].get("ets")
        members = ev.get("members") or []
        label = f"forecast ({ev['how']} of {title}, {', '.join(members)})" if members else "model"
        for n, i in enumerate(picks):
            t = int(origins[i])
            steps = times[t: t + horizon]
            if levels:
                ax.fill_between(steps, forecasts[i, :, k, 0], forecasts[i, :, k, -1], color="tab:blue", alpha=0.2,
                                label=f"{levels[0]:g}-{levels[-1]:g} interval" if n == 0 else None)
                path = forecasts[i, :, k, levels.index(0.5)]
            else:
                path = forecasts[i, :, k]
            ax.plot(steps, path, color="tab:blue", lw=1.5, label=label if n == 0 else None)
            if ets is not None:
                ax.plot(steps, ets[i, :, k], color="tab:orange", lw=1, ls="--", label="ETS" if n == 0 else None)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[0, 0].set_title(f"{title}: {horizon}-step forecasts on the test part")
    fig.tight_layout()
    return fig


def error_by_step_figure(metrics: dict, info: dict, title: str):
    """Mean absolute scaled error at each horizon step, the model beside every baseline."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    steps = np.arange(1, info["horizon"] + 1)
    for name, scores in metrics["baselines"].items():
        ax.plot(steps, scores["by_step"]["mase"], marker=".", lw=1, ls="--", label=name)
    ax.plot(steps, metrics["by_step"]["mase"], marker="o", lw=2.2, color="black", label=title)
    ax.set_xlabel("horizon step")
    counting(ax)
    ax.set_ylabel("MASE")
    ax.set_title("error by horizon step (test part)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mase_figure(metrics: dict, title: str):
    """Test MASE of the forecast, of the network alone when the forecast is a combination, and of every
    baseline, lowest first."""
    import matplotlib.pyplot as plt

    combined = metrics.get("combined_with")
    label = f"{title} ({combined['by']} with {', '.join(combined['methods'])})" if combined else title
    entries = {label: metrics["mase"], **({f"{title} alone": metrics["network"]["mase"]} if combined else {}),
               **{n: s["mase"] for n, s in metrics["baselines"].items()}}
    names = sorted(entries, key=entries.get)
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(names) + 1.2))
    colors = ["black" if n == label else "tab:blue" if n == f"{title} alone" else "tab:gray" for n in names]
    ax.barh(names[::-1], [entries[n] for n in names][::-1], color=colors[::-1])
    for y, n in enumerate(names[::-1]):
        ax.text(entries[n], y, f" {entries[n]:.3f}", va="center", fontsize=8)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("test MASE (lower is better; 1 = in-sample seasonal naive)")
    fig.tight_layout()
    return fig


def collection_figure(ev: dict, data, title: str, count: int = 12):
    """A grid of sample series of a collection (evenly spaced picks, so every subset shows): the end of
    the training part, the test part, the model's forecast (its interval when it has quantiles) and
    Theta's. `ev` is `many.evaluation`'s."""
    import matplotlib.pyplot as plt

    collection, info = data.extras["collection"], data.info
    picks = np.unique(np.linspace(0, len(collection) - 1, min(count, len(collection))).round().astype(int))
    columns = min(4, len(picks))
    rows = int(np.ceil(len(picks) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.6 * rows), squeeze=False)
    levels = info.get("quantiles") or []
    for ax in axes.flat[len(picks):]:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks):
        train, test, h = collection.train[i], collection.test[i], int(collection.horizons[i])
        shown = train[-3 * h:]
        before = np.arange(len(train) - len(shown), len(train))
        after = np.arange(len(train), len(train) + h)
        ax.plot(before, shown, color="black", lw=1)
        ax.plot(after, test, color="black", lw=1, ls=":", label="actual")
        if levels:
            ax.fill_between(after, ev["low"][i], ev["high"][i], color="tab:blue", alpha=0.2,
                            label=f"{levels[0]:g}-{levels[-1]:g}")
        combined = bool(ev.get("combine"))
        ax.plot(after, ev["forecasts"][i], color="tab:blue", lw=1.5,
                label="forecast (network + " + " + ".join(ev["combine"]) + ")" if combined else "model")
        if combined:
            ax.plot(after, ev["network"][i], color="tab:blue", lw=0.8, ls=":", label="network alone")
        if "theta" in ev["baselines"]:
            ax.plot(after, ev["baselines"]["theta"][i], color="tab:orange", lw=1, ls="--", label="Theta")
        ax.set_title(f"{collection.ids[i]} ({collection.subsets[i]})", fontsize=8)
        ax.tick_params(labelsize=7)
        counting(ax)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    picture_title(fig, f"{title} on {collection.source}: sample series, forecast from the end of each training part")
    fig.tight_layout(rect=(0, 0.06, 1, 1))  # the shared legend below the panels, not over a series
    return fig


def smape_by_step_figure(metrics: dict, title: str):
    """Mean sMAPE at each horizon step over the series that reach it: the model beside the baselines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    mine = metrics["by_step"]["smape"]
    steps = np.arange(1, len(mine) + 1)
    for name, scores in metrics["baselines"].items():
        emphasis = {"theta": ("tab:orange", 1.6), "ets": ("tab:green", 1.6), "naive2": ("tab:gray", 1.2)}
        color, width = emphasis.get(name, (None, 0.8))
        ax.plot(steps, scores["by_step"]["smape"], lw=width, ls="--", color=color, label=name,
                alpha=1.0 if name in emphasis else 0.5)
    ax.plot(steps, mine, marker="o", lw=2.2, color="black", label=f"{title} (sMAPE {metrics['smape']:.2f})")
    ax.set_xlabel("horizon step")
    counting(ax)
    ax.set_ylabel("mean sMAPE (%)")
    ax.set_title("sMAPE by horizon step (test parts)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig

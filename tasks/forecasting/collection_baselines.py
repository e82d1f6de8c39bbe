"""The classical methods a collection's forecasts stand beside, fitted on every series' training part.

- `naive`, `seasonal_naive`: the last value, the last season repeated;
- `naive2`: the naive forecast of the seasonally adjusted series (M3 and M4's benchmark; `competition`);
- `ses`, `holt`, `damped`: simple, Holt's linear and damped-trend exponential smoothing of the seasonally
  adjusted series, re-adjusted; `comb` is their mean, M4's "Comb" benchmark;
- `ets`: automatic ETS (Hyndman et al. 2002's model selection by AICc), seasonal where the period is > 1;
- `theta`: the standard Theta method (Assimakopoulos & Nikolopoulos 2000), the M3 winner, with its
  multiplicative seasonal adjustment;
- `arima`: automatic ARIMA (Hyndman & Khandakar 2008), seasonal where the period is > 1.

The fitting is Nixtla's statsforecast: compiled, parallel over series (one process a core). statsmodels'
own ETS and ARIMA took about 10 times as long per series here (benchmarks/README.md, forecasting_m3), too
slow for thousands. The forecasts are cached on disk (`$KERAS_RECURRENT_CACHE`, else
~/.cache/keras_recurrent), named by a hash of the series, their periods and horizons, the methods and
statsforecast's version: a second run on the same collection reads them in a second.
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np

from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting.collection import Collection

METHODS = ("naive", "seasonal_naive", "naive2", "ses", "holt", "damped", "comb", "ets", "theta", "arima")
CACHE_VERSION = 1  # bump when a method's definition changes: older cache files are then ignored


def naive(train: np.ndarray, h: int, period: int) -> np.ndarray:
    return np.repeat(train[-1], h)


def seasonal_naive(train: np.ndarray, h: int, period: int) -> np.ndarray:
    m = period if len(train) >= period > 1 else 1
    return train[len(train) - m + (np.arange(h) % m)]


def _frame(series: list):
    import pandas as pd

    lengths = [len(s) for s in series]
    return pd.DataFrame({"unique_id": np.repeat(np.arange(len(series)), lengths),
                         "ds": np.concatenate([np.arange(n) for n in lengths]),
                         "y": np.concatenate(series).astype("float64")})


def _statsforecast(models: dict, series: list, h: int, jobs: int) -> dict:
    """{name: (len(series), h) forecasts} of statsforecast models fitted to each series."""
    from statsforecast import StatsForecast

    engine = StatsForecast(models=list(models.values()), freq=1, n_jobs=jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = engine.forecast(df=_frame(series), h=h)
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    out = {}
    for name, model in models.items():
        out[name] = frame[str(model)].to_numpy(dtype="float64").reshape(len(series), h)
    return out


def _fit_group(train: list, h: int, period: int, jobs: int) -> dict:
    """Every method's forecasts for series sharing a period and a horizon."""
    from statsforecast.models import AutoARIMA, AutoETS, SimpleExponentialSmoothingOptimized, Theta

    out = {"naive": np.stack([naive(t, h, period) for t in train]),
           "seasonal_naive": np.stack([seasonal_naive(t, h, period) for t in train])}
    indices = [competition.seasonal_indices(t, period) if period > 1 else np.ones(1) for t in train]
    adjusted = [t / ix[np.arange(len(t)) % len(ix)] for t, ix in zip(train, indices)]
    ahead = np.stack([ix[(len(t) + np.arange(h)) % len(ix)] for t, ix in zip(train, indices)])
    out["naive2"] = np.stack([np.repeat(a[-1], h) for a in adjusted]) * ahead
    smoothing = _statsforecast({"ses": SimpleExponentialSmoothingOptimized(alias="ses"),
                                "holt": AutoETS(model="AAN", damped=False, alias="holt"),
                                "damped": AutoETS(model="AAN", damped=True, alias="damped")}, adjusted, h, jobs)
    for name, forecast in smoothing.items():
        out[name] = forecast * ahead
    out["comb"] = (out["ses"] + out["holt"] + out["damped"]) / 3.0
    out.update(_statsforecast({"ets": AutoETS(season_length=period, alias="ets"),
                               "theta": Theta(season_length=period, alias="theta"),
                               "arima": AutoARIMA(season_length=period, alias="arima")}, train, h, jobs))
    return out


def cache_key(collection: Collection) -> str:
    import statsforecast

    digest = hashlib.sha1()
    for train, period, h in zip(collection.train, collection.periods, collection.horizons):
        digest.update(np.ascontiguousarray(train, "float64").tobytes())
        digest.update(f"|{int(period)}|{int(h)}|".encode())
    digest.update(f"{','.join(METHODS)}|{statsforecast.__version__}|{CACHE_VERSION}".encode())
    return digest.hexdigest()[:24]


def fit_all(collection: Collection, cache_dir: str, jobs: int = 0, report=None) -> dict:
    """{method: [each series' forecast over its own horizon]}, from the cache when it holds them.

    `report(text)`, optional, hears one line a group of series as it is fitted."""
    path = os.path.join(cache_dir, f"baselines-{cache_key(collection)}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as saved:
                return _split({m: saved[m] for m in METHODS}, collection)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is fitted again and replaced
    jobs = jobs or os.cpu_count() or 1
    flat = {m: [None] * len(collection) for m in METHODS}
    groups = sorted({(int(p), int(h)) for p, h in zip(collection.periods, collection.horizons)})
    for period, h in groups:
        members = [i for i, (p, hh) in enumerate(zip(collection.periods, collection.horizons)) if (p, hh) == (period, h)]
        if report is not None:
            report(f"fitting {len(METHODS)} classical methods to {len(members)} series of period {period}, horizon {h}")
        fitted = _fit_group([collection.train[i] for i in members], h, period, jobs)
        for m in METHODS:
            for row, i in enumerate(members):
                flat[m][i] = fitted[m][row]
    packed = {m: np.concatenate(flat[m]) for m in METHODS}
    _save(path, packed)
    return _split(packed, collection)


def _split(packed: dict, collection: Collection) -> dict:
    bounds = np.cumsum([0] + [int(h) for h in collection.horizons])
    if any(len(v) != bounds[-1] for v in packed.values()):
        raise ValueError("cached baseline forecasts do not match the collection's horizons")
    return {m: [packed[m][a:b] for a, b in zip(bounds[:-1], bounds[1:])] for m in METHODS}


def _save(path: str, packed: dict) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}.npz"
        np.savez(tmp, **packed)
        os.replace(tmp, path)  # whole or not at all: a concurrent reader never sees half a file
    except OSError:
        pass  # an unwritable cache only costs the time of fitting again


__all__ = ["METHODS", "cache_key", "fit_all", "naive", "seasonal_naive"]

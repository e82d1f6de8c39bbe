"""The classical methods a collection's forecasts stand beside, fitted on every series' training part.

- `naive`, `seasonal_naive`: the last value, the last season repeated;
- `naive2`: the naive forecast of the seasonally adjusted series (M3 and M4's benchmark; `competition`);
- `ses`, `holt`, `damped`: simple, Holt's linear and damped-trend exponential smoothing of the seasonally
  adjusted series, re-adjusted; `comb` is their mean, M4's "Comb" benchmark;
- `ets`: automatic ETS (Hyndman et al. 2002's model selection by AICc), seasonal where the period is > 1;
- `theta`: the standard Theta method (Assimakopoulos & Nikolopoulos 2000), the M3 winner, with its
  multiplicative seasonal adjustment;
- `arima`: automatic ARIMA (Hyndman & Khandakar 2008), seasonal where the period is > 1; fitted only when
  `data.baselines` or the combination names it (its cost: `DEFAULT` below). With future-known features
  (a long CSV's `data.future_features`) it is a regression on them with ARIMA errors, as for one series.

The fitting is Nixtla's statsforecast: compiled, parallel over series (one process a core); statsmodels'
own ETS is far slower per series (benchmarks/README.md, forecasting_m3). ETS, Theta and ARIMA are the models
one series is scored beside too (`baselines.automatic`).
The forecasts are cached on disk (`$KERAS_RECURRENT_CACHE`, else
~/.cache/keras_recurrent), named by a hash of the series, their periods and horizons, the methods and
statsforecast's version: a second run on the same collection reads them in a second.
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np

from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting.baselines import READS_FUTURE, automatic
from keras_recurrent.tasks.forecasting.collection import Collection

METHODS = ("naive", "seasonal_naive", "naive2", "ses", "holt", "damped", "comb", "ets", "theta", "arima")
# Automatic ARIMA is left out unless asked for: on M3 it alone took about 8 of the baselines' 10 minutes on
# 2 cores (benchmarks/README.md, forecasting_m3), a third of the whole run's 30-minute budget.
DEFAULT = tuple(m for m in METHODS if m != "arima")
ALWAYS = ("naive2",)  # OWA is relative to it
CACHE_VERSION = 2  # bump when a method's definition changes: older cache files are then ignored


def parse_methods(text: str, setting: str = "data.baselines") -> tuple:
    """A comma-separated list of methods as a tuple in `METHODS` order; a one-line error for an unknown one.
    `data.baselines` (empty = `DEFAULT`) always gains Naive2; `model.combine` (empty = none) is as given."""
    from keras_recurrent.tasks.base import UserError

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise UserError(f"{setting}: unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    if setting != "data.baselines":
        return tuple(m for m in METHODS if m in names)
    names = names or list(DEFAULT)
    return tuple(m for m in METHODS if m in names or m in ALWAYS)


def naive(train: np.ndarray, h: int, period: int) -> np.ndarray:
    return np.repeat(train[-1], h)


def seasonal_naive(train: np.ndarray, h: int, period: int) -> np.ndarray:
    m = period if len(train) >= period > 1 else 1
    return train[len(train) - m + (np.arange(h) % m)]


def _frame(series: list, known: list | None = None, h: int = 0):
    """statsforecast's long frame of `series`, with their regressors `known` ((n + h, g) each) as columns;
    and with `known`, the frame of the regressors over the `h` steps ahead (else None)."""
    import pandas as pd

    lengths = [len(s) for s in series]
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(series)), lengths),
                          "ds": np.concatenate([np.arange(n) for n in lengths]),
                          "y": np.concatenate(series).astype("float64")})
    if known is None:
        return frame, None
    ahead = pd.DataFrame({"unique_id": np.repeat(np.arange(len(series)), h),
                          "ds": np.concatenate([np.arange(n, n + h) for n in lengths])})
    for j in range(known[0].shape[1]):
        frame[f"x{j}"] = np.concatenate([k[:n, j] for k, n in zip(known, lengths)])
        ahead[f"x{j}"] = np.concatenate([k[n: n + h, j] for k, n in zip(known, lengths)])
    return frame, ahead


def _statsforecast(models: dict, series: list, h: int, jobs: int, known: list | None = None) -> dict:
    """{name: (len(series), h) forecasts} of statsforecast models fitted to each series (regressing on
    `known`, each series' regressors over its points and the `h` steps after them, when given)."""
    from statsforecast import StatsForecast
    from statsforecast.models import SimpleExponentialSmoothingOptimized

    # A series a method cannot fit (statsforecast's ETS refuses one with too few points for its parameters,
    # as R's ets does) gets simple exponential smoothing in its place, not a failed run.
    engine = StatsForecast(models=list(models.values()), freq=1, n_jobs=jobs,
                           fallback_model=SimpleExponentialSmoothingOptimized())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame, ahead = _frame(series, known, h)
        frame = engine.forecast(df=frame, h=h, **({} if ahead is None else {"X_df": ahead}))
    frame = frame.sort_values(["unique_id", "ds"], kind="stable")
    out = {}
    for name, model in models.items():
        out[name] = frame[str(model)].to_numpy(dtype="float64").reshape(len(series), h)
    return out


def _fit_group(train: list, h: int, period: int, jobs: int, methods: tuple, known: list | None = None) -> dict:
    """The chosen methods' forecasts for series sharing a period and a horizon; those that read
    future-known features (`READS_FUTURE`) regress on `known` when it is given."""
    from statsforecast.models import AutoETS, SimpleExponentialSmoothingOptimized

    out = {"naive": np.stack([naive(t, h, period) for t in train]),
           "seasonal_naive": np.stack([seasonal_naive(t, h, period) for t in train])}
    indices = [competition.seasonal_indices(t, period) for t in train]  # ones where no season (or period 1)
    adjusted = [t / competition.indices_at(ix, np.arange(len(t))) for t, ix in zip(train, indices)]
    ahead = np.stack([competition.indices_at(ix, np.arange(len(t), len(t) + h)) for t, ix in zip(train, indices)])
    out["naive2"] = np.stack([competition.naive2(t, h, period, ix) for t, ix in zip(train, indices)])
    smoothing = {"ses": SimpleExponentialSmoothingOptimized(alias="ses"),
                 "holt": AutoETS(model="AAN", damped=False, alias="holt"),
                 "damped": AutoETS(model="AAN", damped=True, alias="damped")}
    wanted = {n: m for n, m in smoothing.items() if n in methods or "comb" in methods}
    for name, forecast in (_statsforecast(wanted, adjusted, h, jobs) if wanted else {}).items():
        out[name] = forecast * ahead
    if "comb" in methods:
        out["comb"] = (out["ses"] + out["holt"] + out["damped"]) / 3.0
    for reads in (False, True):
        wanted = {n: automatic(n, period, alias=n) for n in ("ets", "theta", "arima")
                  if n in methods and (known is not None and n in READS_FUTURE) == reads}
        if wanted:
            out.update(_statsforecast(wanted, train, h, jobs, known if reads else None))
    return {m: out[m] for m in methods}


def cache_key(collection: Collection, methods: tuple = METHODS) -> str:
    import statsforecast

    digest = hashlib.sha1()
    for i, (train, period, h) in enumerate(zip(collection.train, collection.periods, collection.horizons)):
        digest.update(np.ascontiguousarray(train, "float64").tobytes())
        digest.update(f"|{int(period)}|{int(h)}|".encode())
        if collection.future is not None:  # what ARIMA regresses on, over the training part and the horizon
            digest.update(np.ascontiguousarray(collection.future[i][: len(train) + int(h)], "float64").tobytes())
    digest.update(f"{','.join(methods)}|{statsforecast.__version__}|{CACHE_VERSION}".encode())
    return digest.hexdigest()[:24]


def fit_all(collection: Collection, cache_dir: str, jobs: int = 0, report=None, methods: tuple = DEFAULT) -> dict:
    """{method: [each series' forecast over its own horizon]}, from the cache when it holds them.

    `methods` (Naive2 is added: OWA needs it); `report(text)`, optional, hears one line a group of series
    as it is fitted."""
    methods = tuple(m for m in METHODS if m in methods or m in ALWAYS)
    path = os.path.join(cache_dir, f"baselines-{cache_key(collection, methods)}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as saved:
                return _split({m: saved[m] for m in methods}, collection)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is fitted again and replaced
    jobs = jobs or os.cpu_count() or 1
    flat = {m: [None] * len(collection) for m in methods}
    groups = sorted({(int(p), int(h)) for p, h in zip(collection.periods, collection.horizons)})
    for period, h in groups:
        members = [i for i, (p, hh) in enumerate(zip(collection.periods, collection.horizons)) if (p, hh) == (period, h)]
        if report is not None:
            report(f"fitting {len(methods)} classical methods to {len(members)} series of period {period}, horizon {h}")
        known = None if collection.future is None else [collection.future[i] for i in members]
        fitted = _fit_group([collection.train[i] for i in members], h, period, jobs, methods, known)
        for m in methods:
            for row, i in enumerate(members):
                flat[m][i] = fitted[m][row]
    packed = {m: np.concatenate(flat[m]) for m in methods}
    _save(path, packed)
    return _split(packed, collection)


def _split(packed: dict, collection: Collection) -> dict:
    bounds = np.cumsum([0] + [int(h) for h in collection.horizons])
    if any(len(v) != bounds[-1] for v in packed.values()):
        raise ValueError("cached baseline forecasts do not match the collection's horizons")
    return {m: [packed[m][a:b] for a, b in zip(bounds[:-1], bounds[1:])] for m in packed}


def _save(path: str, packed: dict) -> None:
    from keras_recurrent.tasks import files

    try:
        with files.atomic_path(path, ".npz") as tmp:  # whole or not at all, with the user's umask
            np.savez(tmp, **packed)
    except OSError:
        pass  # an unwritable cache only costs the time of fitting again


__all__ = ["DEFAULT", "METHODS", "cache_key", "fit_all", "naive", "parse_methods", "seasonal_naive"]

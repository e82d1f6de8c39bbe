"""Scoring as the M-competitions score (the first piece of issue 29; not yet wired into the task).

- sMAPE as M3 and M4 define it: 200 / h * sum |y - f| / (|y| + |f|), 0 to 200 (`metrics._smape`);
- MASE scaled by the in-sample seasonal naive error (Hyndman & Koehler 2006; `metrics.mase_scale`);
- Naive2 (Makridakis, Spiliotis & Assimakopoulos, "The M4 Competition", IJF 2020, and the M3 reports):
  the naive forecast of the seasonally adjusted series, seasonally re-adjusted. A series is adjusted only
  when a 90% autocorrelation test finds seasonality at lag m: |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n),
  and the seasonal indices are those of a classical multiplicative decomposition;
- OWA relative to Naive2, as in M4: the mean of sMAPE / sMAPE(Naive2) and MASE / MASE(Naive2), each
  averaged over the series first.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.forecasting.metrics import _smape


def is_seasonal(series: np.ndarray, period: int) -> bool:
    """The M4 test: seasonality at lag `period` when the autocorrelation there exceeds its 90% bound
    (Bartlett's standard error from the autocorrelations below it). Needs 3 full periods; else False."""
    from statsmodels.tsa.stattools import acf

    series = np.asarray(series, dtype="float64")
    if period <= 1 or len(series) < 3 * period or np.ptp(series) == 0:
        return False
    r = acf(series, nlags=period, fft=False)
    limit = 1.645 * np.sqrt((1.0 + 2.0 * np.sum(r[1:period] ** 2)) / len(series))
    return bool(abs(r[period]) > limit)


def seasonal_indices(series: np.ndarray, period: int) -> np.ndarray:
    """One multiplicative index a position in the cycle (position 0 = the series' first point), from a
    classical multiplicative decomposition (statsmodels), or ones where the series is not seasonal."""
    from statsmodels.tsa.seasonal import seasonal_decompose

    series = np.asarray(series, dtype="float64")
    if not is_seasonal(series, period) or (series <= 0).any():  # multiplicative indices need positive values
        return np.ones(max(period, 1))
    return np.asarray(seasonal_decompose(series, model="multiplicative", period=period).seasonal[:period])


def indices_at(indices: np.ndarray, positions) -> np.ndarray:
    """The seasonal index of each position of a series (position 0 = its first point)."""
    return indices[np.asarray(positions) % len(indices)]


def naive2(series: np.ndarray, horizon: int, period: int, indices: np.ndarray | None = None) -> np.ndarray:
    """The Naive2 forecast of `series` for `horizon` steps (`indices`: its seasonal indices, when known)."""
    series = np.asarray(series, dtype="float64")
    indices = seasonal_indices(series, period) if indices is None else indices
    n = len(series)
    return series[-1] / indices_at(indices, n - 1) * indices_at(indices, np.arange(n, n + horizon))


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average of a method's mean sMAPE and MASE relative to Naive2's (1 = Naive2)."""
    return 0.5 * (smape / smape_naive2 + mase / mase_naive2)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sMAPE of one series' forecast, 0 to 200."""
    return float(_smape(np.asarray(actual, dtype="float64"), np.asarray(forecast, dtype="float64")).mean())


__all__ = ["indices_at", "is_seasonal", "naive2", "owa", "seasonal_indices", "smape"]

"""The classical forecasters every evaluation shows beside the model, fitted on the training part only.

- `last_value`: every future step repeats the last observed value (the naive forecast);
- `seasonal_naive`: each future step repeats the value one season earlier;
- `linear`: ridge regression from the input window (every target's lags) to the whole horizon
  (scikit-learn), the direct multi-output linear model;
- `ets`: exponential smoothing with additive errors (statsmodels' state-space form), with the trend
  (none, additive, damped) chosen by AIC and the seasonal term when the data has a season;
- `arima`: ARIMA with automatic order selection: differencing by the KPSS test, (p, q) in {0,1,2} x {0,1}
  by AIC, the seasonal (0,1,1)_m "airline" term for monthly or quarterly seasons. With future-known
  features (`data.future_features`) it is a regression on them with ARIMA errors, and the linear model
  reads their values over the horizon: the classical methods that can use what the network is given do.

The state-space baselines are fitted once; their forecasts from every origin then come from one pass of
the Kalman filter over the rest of the series with the fitted parameters (the predicted state at the
origin, propagated `horizon` steps by the transition matrix): what refitting nothing and forecasting
from each origin would give, at the cost of one filter pass instead of one per origin.
"""

from __future__ import annotations

import warnings

import numpy as np

NAMES = ("last_value", "seasonal_naive", "linear", "ets", "arima")


def last_value(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(values[origins - 1][:, None, :], horizon, axis=1)


def seasonal_naive(values: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """f_{t+j} = y_{t+j-m*ceil((j+1)/m)}: the same point of the last season that was observed."""
    m = max(1, season)
    steps = np.arange(horizon)
    back = m * ((steps // m) + 1)  # j < m reaches one season back, j in [m, 2m) two seasons, ...
    return values[origins[:, None] + steps[None, :] - back[None, :]]


def linear(values: np.ndarray, train_origins: range, origins: np.ndarray, window: int, horizon: int,
           max_windows: int = 20000, inputs: np.ndarray | None = None, future: np.ndarray | None = None) -> np.ndarray:
    """Ridge from the flattened window (targets and any features), and the future-known features over the
    horizon, to the flattened horizon, trained on the last training windows."""
    from sklearn.linear_model import Ridge

    from keras_recurrent.tasks.forecasting.windows import ahead_array, window_array

    def design(at):
        x, y = window_array(values, at, window, horizon, inputs)
        x = x.reshape(len(x), -1)
        if future is not None:
            x = np.concatenate([x, ahead_array(future, at, horizon).reshape(len(x), -1)], axis=1)
        return x, y

    x, y = design(np.asarray(train_origins)[-max_windows:])
    model = Ridge(alpha=1e-3).fit(x, y.reshape(len(y), -1))
    return model.predict(design(origins)[0]).reshape(len(origins), horizon, values.shape[1])


def _quietly(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fit()
        except (np.linalg.LinAlgError, ValueError):
            return None


def fit_ets(train: np.ndarray, season: int):
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    seasonal = season if 1 < season <= 52 and len(train) >= 2 * season + 2 else None
    fits = [_quietly(lambda t=trend, d=damped: ExponentialSmoothing(train, trend=t, damped_trend=d, seasonal=seasonal)
                     .fit(disp=False, low_memory=True))
            for trend, damped in ((False, False), (True, False), (True, True))]
    fits = [f for f in fits if f is not None and np.isfinite(f.aic)]
    return min(fits, key=lambda f: f.aic) if fits else None


def fit_arima(train: np.ndarray, season: int, exog: np.ndarray | None = None):
    """ARIMA with automatic order selection; with `exog` (future-known features over the same steps), a
    regression on them with ARIMA errors."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.stattools import kpss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = 1 if kpss(train, regression="c", nlags="auto")[1] < 0.05 else 0
    seasonal = (0, 1, 1, season) if 1 < season <= 24 and len(train) >= 3 * season + 2 else (0, 0, 0, 0)
    integrated = d + seasonal[1]
    trend = {0: "c", 1: "t"}.get(integrated, "n")  # a lower-order trend would be differenced away
    fits = [_quietly(lambda p=p, q=q: ARIMA(train, exog, order=(p, d, q), seasonal_order=seasonal, trend=trend).fit(low_memory=True))
            for p in (0, 1, 2) for q in (0, 1)]
    fits = [f for f in fits if f is not None and np.isfinite(f.aic)]
    return min(fits, key=lambda f: f.aic) if fits else None


def _at(matrix: np.ndarray, t: int) -> np.ndarray:
    """A state-space system matrix at time t (statsmodels keeps time-invariant ones with a last axis of 1)."""
    return matrix[..., 0] if matrix.shape[-1] == 1 else matrix[..., t]


def rolling_forecasts(fitted, series: np.ndarray, origins: np.ndarray, horizon: int,
                      exog: np.ndarray | None = None) -> np.ndarray:
    """(origins, horizon) forecasts of a fitted state-space model from each origin of `series`.

    `series` is the data the model is applied to (its parameters fixed); origin t forecasts
    series[t : t + horizon] from series[:t]. Every forecast step lies inside `series`, so time-varying
    intercepts (an ARIMA drift, a regression on `exog`, which covers the same steps) are known there.
    """
    from statsmodels.tsa.statespace import kalman_filter as kf

    # Filter only (no smoother) and keep only the predicted states: the covariance matrices of every step
    # would take k_states^2 x 8 bytes a step (gigabytes for a seasonal ARIMA over a long series).
    model = fitted.model.clone(series) if exog is None else fitted.model.clone(series, exog=exog)
    model.ssm.set_conserve_memory(kf.MEMORY_NO_FORECAST | kf.MEMORY_NO_PREDICTED_COV | kf.MEMORY_NO_FILTERED
                                  | kf.MEMORY_NO_GAIN | kf.MEMORY_NO_SMOOTHING | kf.MEMORY_NO_STD_FORECAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = model.filter(fitted.params, cov_type="none").filter_results
    out = np.empty((len(origins), horizon))
    for i, t in enumerate(origins):
        state = results.predicted_state[:, t]  # the state at t given y[:t]
        for j in range(horizon):
            out[i, j] = (_at(results.design, t + j) @ state)[0] + _at(results.obs_intercept, t + j)[0]
            state = _at(results.transition, t + j) @ state + _at(results.state_intercept, t + j)
    return out


def _fit(kind: str, train: np.ndarray, season: int, exog: np.ndarray | None):
    """ETS reads the target alone; ARIMA regresses on the future-known features when there are some."""
    return fit_ets(train, season) if kind == "ets" else fit_arima(train, season, exog)


def state_space(kind: str, values: np.ndarray, train_end: int, origins: np.ndarray, horizon: int, season: int,
                fit_points: int, future: np.ndarray | None = None) -> tuple[np.ndarray | None, list]:
    """(forecasts or None when no model could be fitted, a description of each target's chosen model)."""
    start = max(0, train_end - fit_points) if fit_points else 0
    exog = None if future is None or kind == "ets" else future[start:]
    forecasts, chosen = np.empty((len(origins), horizon, values.shape[1])), []
    for k in range(values.shape[1]):
        fitted = _fit(kind, values[start:train_end, k], season, None if exog is None else exog[: train_end - start])
        if fitted is None:
            return None, []
        forecasts[:, :, k] = rolling_forecasts(fitted, values[start:, k], origins - start, horizon, exog)
        chosen.append(_describe(kind, fitted, 0 if exog is None else exog.shape[1]))
    return forecasts, chosen


def _describe(kind: str, fitted, features: int = 0) -> str:
    spec = fitted.model
    if kind == "arima":
        regression = f" on {features} future-known feature(s)" if features else ""
        return f"ARIMA{spec.order}{spec.seasonal_order if spec.seasonal_order[3] else ''} trend={spec.trend}{regression}"
    trend = "none" if not spec.trend else ("damped" if spec.damped_trend else "additive")
    return f"ETS(A,{trend},{'A' if spec.seasonal else 'none'})"


def from_end(kind: str, values: np.ndarray, horizon: int, season: int, fit_points: int,
             future: np.ndarray | None = None) -> np.ndarray | None:
    """(horizon, targets) forecasts from the end of `values` by a method of `NAMES` other than `linear`,
    the state-space ones fitted on (at most `fit_points` of) the last values; None when one cannot be fitted.
    `future` (len(values) + horizon, g): the future-known features over the history and the horizon."""
    origin = np.array([len(values)])
    if kind == "last_value":
        return last_value(values, origin, horizon)[0]
    if kind == "seasonal_naive":
        return seasonal_naive(values, origin, horizon, season)[0]
    start = max(0, len(values) - fit_points) if fit_points else 0
    exog = None if future is None or kind == "ets" else future[start:]
    out = np.empty((horizon, values.shape[1]))
    for k in range(values.shape[1]):
        fitted = _fit(kind, values[start:, k], season, None if exog is None else exog[: len(values) - start])
        if fitted is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ahead = {} if exog is None else {"exog": exog[len(values) - start:]}
            out[:, k] = np.asarray(fitted.forecast(horizon, **ahead))
    return out


def all_baselines(values, split, origins, season: int, fit_points: int, inputs=None, future=None) -> tuple[dict, dict]:
    """({name: forecasts (origins, horizon, targets)}, {name: the fitted model's description}).

    `inputs` (targets, then features) feeds the linear model's window; the univariate classics read
    each target alone, but for ARIMA's regression on the future-known features (`future`), which the
    linear model reads over the horizon too."""
    h, w = split.horizon, split.window
    forecasts = {
        "last_value": last_value(values, origins, h),
        "seasonal_naive": seasonal_naive(values, origins, h, season),
        "linear": linear(values, split.origins("train"), origins, w, h, inputs=inputs, future=future),
    }
    described = {"seasonal_naive": f"season {season}",
                 "linear": f"ridge on {w} lags per {'column' if inputs is not None else 'target'}"
                           + (f" and the {h} future-known steps" if future is not None else "")}
    for kind in ("ets", "arima"):
        result, chosen = state_space(kind, values, split.train_end, origins, h, season, fit_points, future)
        if result is not None:
            forecasts[kind], described[kind] = result, "; ".join(chosen)
    return forecasts, described


__all__ = ["NAMES", "all_baselines", "fit_arima", "fit_ets", "from_end", "last_value", "linear", "rolling_forecasts",
           "seasonal_naive", "state_space"]

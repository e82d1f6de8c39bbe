"""The classical forecasters every evaluation shows beside the model, fitted on the training part only.

- `last_value`: every future step repeats the last observed value (the naive forecast);
- `seasonal_naive`: each future step repeats the value one season earlier;
- `linear`: ridge regression from the input window (every target's lags) to the whole horizon
  (scikit-learn), the direct multi-output linear model;
- `ets`, `theta`, `arima`: automatic ETS, the standard Theta method and automatic ARIMA, the same
  statsforecast models that many series are scored beside (`collection_baselines`), so that "ETS" means one
  thing in every run. With future-known features (`data.future_features`) ARIMA is a regression on them
  with ARIMA errors, and the linear model reads their values over the horizon: the classical methods that
  can use what the network is given do.

They are fitted once, on the training part (at most `data.baseline_fit_points` of its last steps); their
forecast from each test origin is the fitted model applied to the history before it, its parameters fixed
(statsforecast's `forward`, as its cross-validation without refitting): what the model fitted once would
have said there. A model that cannot be fitted is left out of the run's table.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

NAMES = ("last_value", "seasonal_naive", "linear", "ets", "theta", "arima")


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

    from keras_recurrent.tasks.forecasting.windows import horizon_array, window_array

    def design(at):
        x, y = window_array(values, at, window, horizon, inputs)
        x = x.reshape(len(x), -1)
        if future is not None:
            x = np.concatenate([x, horizon_array(future, at, horizon).reshape(len(x), -1)], axis=1)
        return x, y

    x, y = design(np.asarray(train_origins)[-max_windows:])
    model = Ridge(alpha=1e-3).fit(x, y.reshape(len(y), -1))
    return model.predict(design(origins)[0]).reshape(len(origins), horizon, values.shape[1])


# The methods that read future-known features (as regressors); the others see the target alone.
READS_FUTURE = ("arima",)


def _start(end: int, points: int) -> int:
    """Where the last `points` values before `end` begin (all of them when `points` is 0)."""
    return max(0, end - points) if points else 0


def _exog(kind: str, future: np.ndarray | None) -> np.ndarray | None:
    return future if kind in READS_FUTURE else None


# ETS and Theta are seasonal up to weekly seasons of daily data (52 weeks a year too); automatic ARIMA only
# up to 24 (hours of a day): its seasonal search is far slower than theirs (a season of 52 took 36 s on 300
# points, one of 168 twelve minutes on 1,000, on this 2-core CPU).
SEASONAL_LIMIT = {"ets": 52, "theta": 52, "arima": 24}


def automatic(kind: str, period: int, alias: str | None = None):
    """The statsforecast model that `ets`, `theta` or `arima` names, one series or many (`collection_baselines`):
    AutoETS (Hyndman et al. 2002's selection by AICc), the standard Theta method (Assimakopoulos & Nikolopoulos
    2000), AutoARIMA (Hyndman & Khandakar 2008), seasonal with `period` > 1."""
    from statsforecast.models import AutoARIMA, AutoETS, Theta

    made = {"ets": AutoETS, "theta": Theta, "arima": AutoARIMA}[kind]
    return made(season_length=period, **({"alias": alias} if alias else {}))


def fit(kind: str, train: np.ndarray, season: int, exog: np.ndarray | None = None):
    """`kind` fitted to one target's training values; with `exog` (future-known features over the same
    steps) ARIMA is a regression on them with ARIMA errors. None when it cannot be fitted."""
    period = season if 1 < season <= SEASONAL_LIMIT[kind] and len(train) >= 2 * season + 2 else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return automatic(kind, period).fit(np.asarray(train, "float64"), X=_exog(kind, exog))
        except Exception:  # noqa: BLE001  statsforecast's fits raise many kinds on data they cannot model
            return None


def rolling_forecasts(fitted, series: np.ndarray, origins: np.ndarray, horizon: int,
                      exog: np.ndarray | None = None, history: int = 0) -> np.ndarray:
    """(origins, horizon) forecasts of a fitted model from each origin of `series`, its parameters fixed.

    Origin t forecasts series[t : t + horizon] from series[:t] (the last `history` values of it when
    `history` > 0), as statsforecast's cross-validation without refitting does: what the model fitted
    once would have said at each origin. With `exog` (covering the same steps and the horizon after each
    origin), ARIMA reads the features of the history and of the steps ahead.
    """
    out = np.empty((len(origins), horizon))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, t in enumerate(origins):
            lo = _start(t, history)
            ahead = {} if exog is None else {"X": exog[lo:t], "X_future": exog[t: t + horizon]}
            out[i] = fitted.forward(y=np.asarray(series[lo:t], "float64"), h=horizon, **ahead)["mean"]
    return out


def classical(kind: str, values: np.ndarray, train_end: int, origins: np.ndarray, horizon: int, season: int,
              fit_points: int, future: np.ndarray | None = None) -> tuple[np.ndarray | None, list]:
    """(forecasts or None when no model could be fitted, a description of each target's chosen model)."""
    start, exog = _start(train_end, fit_points), _exog(kind, future)
    forecasts, chosen = np.empty((len(origins), horizon, values.shape[1])), []
    for k in range(values.shape[1]):
        fitted = fit(kind, values[start:train_end, k], season, None if exog is None else exog[start:train_end])
        if fitted is None:
            return None, []
        forecasts[:, :, k] = rolling_forecasts(fitted, values[:, k], origins, horizon, exog, fit_points)
        chosen.append(_describe(kind, fitted, 0 if exog is None else exog.shape[1]))
    return forecasts, chosen


def _describe(kind: str, fitted, features: int = 0) -> str:
    if kind == "arima":
        from statsforecast.arima import arima_string

        # "ARIMA(p,d,q)(P,D,Q)[m] with drift", or "Regression with ARIMA(...) errors" with features.
        order = re.search(r"ARIMA\([^)]*\)(\([^)]*\)\[\d+\])?", arima_string(fitted.model_))
        text = order.group(0) if order else "ARIMA"
        return f"{text} errors, regression on {features} future-known feature(s)" if features else text
    if kind == "ets":
        return str(fitted.model_["method"])
    return f"Theta, season {fitted.season_length}"


def from_end(kind: str, values: np.ndarray, horizon: int, season: int, fit_points: int,
             future: np.ndarray | None = None) -> np.ndarray | None:
    """(horizon, targets) forecasts from the end of `values` by a method of `NAMES` other than `linear`,
    the fitted ones fitted on (at most `fit_points` of) the last values; None when one cannot be fitted.
    `future` (len(values) + horizon, g): the future-known features over the history and the horizon."""
    origin = np.array([len(values)])
    if kind == "last_value":
        return last_value(values, origin, horizon)[0]
    if kind == "seasonal_naive":
        return seasonal_naive(values, origin, horizon, season)[0]
    start, exog = _start(len(values), fit_points), _exog(kind, future)
    out = np.empty((horizon, values.shape[1]))
    for k in range(values.shape[1]):
        fitted = fit(kind, values[start:, k], season, None if exog is None else exog[start: len(values)])
        if fitted is None:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ahead = {} if exog is None else {"X": exog[len(values):]}
            out[:, k] = fitted.predict(horizon, **ahead)["mean"]
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
    for kind in ("ets", "theta", "arima"):
        result, chosen = classical(kind, values, split.train_end, origins, h, season, fit_points, future)
        if result is not None:
            forecasts[kind], described[kind] = result, "; ".join(chosen)
    return forecasts, described


__all__ = ["NAMES", "READS_FUTURE", "SEASONAL_LIMIT", "all_baselines", "automatic", "classical", "fit", "from_end", "last_value", "linear",
           "rolling_forecasts", "seasonal_naive"]

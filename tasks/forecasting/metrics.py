"""Forecast accuracy in original units: MAE, RMSE, MASE and sMAPE, overall and per horizon step.

MASE (Hyndman & Koehler, "Another look at measures of forecast accuracy", 2006) divides the mean absolute
error by the in-sample mean absolute error of the seasonal naive forecast on the training part,
mean |y_t - y_{t-m}|: below 1 beats what repeating last season did in sample, and it is comparable across
series and targets. sMAPE is 200 |y - f| / (|y| + |f|) in percent (0 where both are 0).
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.base import UserError


def seasonal_naive_error(train: np.ndarray, season: int) -> np.ndarray:
    """Per column: mean |y_t - y_{t-m}| over the training part, m = season (1 when the part is not longer
    than a season: the naive forecast, as M4 scales such series); 0 where the part is too short."""
    m = season if len(train) > season else 1
    if len(train) <= m:
        return np.zeros(np.shape(train)[1:])
    return np.abs(train[m:] - train[:-m]).mean(axis=0)


def mase_scale(train: np.ndarray, season: int, names: list, where: str) -> np.ndarray:
    """Per target: the in-sample seasonal naive error (`seasonal_naive_error`), refused when zero."""
    m = season if len(train) > season else 1
    scale = seasonal_naive_error(train, season)
    for name, s in zip(names, scale):
        if not s > 0:
            raise UserError(f"{where}: target {name!r} repeats itself exactly every {m} steps over the training "
                            f"part, so the MASE denominator (in-sample seasonal naive error) is zero")
    return scale


def _smape(actual, forecast):
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(np.abs(actual - forecast), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return 200.0 * ratio


def scores(forecast: np.ndarray, actual: np.ndarray, scale: np.ndarray, names: list) -> dict:
    """Metrics of forecasts (origins, horizon, targets) against actuals of the same shape.

    `mase` and `smape` average over targets; `mae` and `rmse` are per target (their units differ) and
    also given as plain numbers when there is one target. `by_step` holds each metric per horizon step.
    """
    if forecast.shape != actual.shape:  # broadcasting would score the wrong pairs without a word
        raise ValueError(f"forecasts {forecast.shape} and actual values {actual.shape} differ in shape")
    error = forecast - actual
    absolute = np.abs(error)
    mae_t = absolute.mean(axis=(0, 1))
    rmse_t = np.sqrt((error ** 2).mean(axis=(0, 1)))
    result = {
        "mase": float((absolute / scale).mean()),
        "smape": float(_smape(actual, forecast).mean()),
        "by_step": {
            "mase": (absolute / scale).mean(axis=(0, 2)).round(6).tolist(),
            "mae": absolute.mean(axis=(0, 2)).round(6).tolist(),
            "smape": _smape(actual, forecast).mean(axis=(0, 2)).round(6).tolist(),
        },
    }
    if len(names) == 1:
        result["mae"], result["rmse"] = float(mae_t[0]), float(rmse_t[0])
    else:
        result["mae"] = {n: float(v) for n, v in zip(names, mae_t)}
        result["rmse"] = {n: float(v) for n, v in zip(names, rmse_t)}
        result["mase_by_target"] = {n: float(v) for n, v in zip(names, (absolute / scale).mean(axis=(0, 1)))}
    return result


def coverage(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    return float(((actual >= lower) & (actual <= upper)).mean())


def pinball(forecast: np.ndarray, actual: np.ndarray, q: float) -> float:
    """Mean quantile (pinball) loss of a q-quantile forecast."""
    diff = actual - forecast
    return float(np.maximum(q * diff, (q - 1) * diff).mean())


__all__ = ["coverage", "mase_scale", "pinball", "scores", "seasonal_naive_error"]

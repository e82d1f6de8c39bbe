"""Calendar columns computed from the time stamps (`data.calendar`): future-known features nobody has to supply.

The day of the week, the month, the hour are known for every step ahead. Each attribute becomes a pair of
Fourier terms, sin(2 pi a / P) and cos(2 pi a / P) of its value a over its period P: consecutive values stay
close (December beside January), two columns whatever the period, and for ARIMA, which regresses on the
future-known features, they are the harmonic regressors of a dynamic harmonic regression (Hyndman &
Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., section 10.5). The network reads them as it
reads any future-known feature: in the window and at every step it forecasts.

They are appended after the user's own `data.future_features`, named `ATTRIBUTE_sin`, `ATTRIBUTE_cos`.
`predict` computes them for the steps ahead from the time stamps continued at the series' frequency, so
a file needs no rows ahead unless the model also reads columns of the user's.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.base import UserError

# attribute -> (its value at each stamp of a DatetimeIndex, counted from 0; its period)
ATTRIBUTES = {
    "hour": (lambda t: t.hour + t.minute / 60.0, lambda t: 24.0),
    "dayofweek": (lambda t: t.dayofweek, lambda t: 7.0),
    "dayofmonth": (lambda t: t.day - 1, lambda t: t.days_in_month),
    "dayofyear": (lambda t: t.dayofyear - 1, lambda t: np.where(t.is_leap_year, 366.0, 365.0)),
    "month": (lambda t: t.month - 1, lambda t: 12.0),
}


def parse(text: str) -> list:
    """`data.calendar` as a list of attributes; a one-line error for one it does not know."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in ATTRIBUTES:
            raise UserError(f"data.calendar: unknown attribute {name!r}; choose from {', '.join(ATTRIBUTES)}")
    return list(dict.fromkeys(names))


def column_names(attributes: list) -> list:
    return [f"{a}_{part}" for a in attributes for part in ("sin", "cos")]


def columns(times, attributes: list, where: str = "") -> np.ndarray:
    """(len(times), 2 * len(attributes)): each attribute's sine and cosine at each time stamp. `where`
    (the data's name) asks for the check that each attribute varies over the stamps (a model learns
    nothing of a constant column, and standardising it divides by zero)."""
    import pandas as pd

    if not isinstance(times, pd.DatetimeIndex):
        times = pd.DatetimeIndex(times)
    out = np.zeros((len(times), 2 * len(attributes)), "float64")
    for i, name in enumerate(attributes):
        value, period = ATTRIBUTES[name]
        a = np.asarray(value(times), "float64")
        if where and len(a) and np.all(a == a[0]):
            raise UserError(f"data.calendar: {name} is the same at every time stamp of {where}; choose attributes "
                            f"that vary at the data's frequency")
        angle = 2 * np.pi * a / np.asarray(period(times), "float64")
        out[:, 2 * i], out[:, 2 * i + 1] = np.sin(angle), np.cos(angle)
    return out


def require_dates(attributes: list, is_dates: bool, where: str) -> None:
    if attributes and not is_dates:
        raise UserError(f"data.calendar: {where} is indexed by numbers, not dates; calendar columns need dated "
                        f"time stamps")


__all__ = ["ATTRIBUTES", "column_names", "columns", "parse", "require_dates"]

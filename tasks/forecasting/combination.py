"""What `model.combine` asks for: the network's forecast combined with classical forecasts of the same series.

Combinations beat their members: the lesson of the M competitions (M4's winners combined, its "Comb"
benchmark is a mean of three smoothers) and of this project's own measurements. Many series: the
equal-weight mean of the network, ETS and Theta (statsforecast, fitted on each training part; `many.py`).
One series: the median, step by step, of the network, Theta and ARIMA (fitted by the single series'
evaluation anyway; `baselines.py`). With three members the median keeps the middle forecast
at each step, so one member far off (a network that has learnt a short series badly, an ARIMA that
extrapolates a trend too far) does not move it; the mean moves a third of the way.

Chosen on data kept apart from every number reported for it: on 60 M1 monthly series (two random draws,
one training seed), `benchmarks/forecasting_combination.py`, the lowest mean test MASE of the options with
the network in them; `forecasting_short` then measures it on 30 random M3 monthly series and the three
statsmodels series (benchmarks/README.md#forecasting_combination).

With future-known features (`data.future_features`), `auto` is the mean of the network and ARIMA, which
then regresses on them (one series or many): ETS, Theta and the naive forecasts cannot read them, and a member blind to what
the user has declared known about the future would vote against it (benchmarks/README.md#forecasting_covariates).

`auto` (the default) is the combination of the data's kind; an explicit list of methods combines with
their mean; empty is the network alone.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.base import UserError
from keras_recurrent.tasks.forecasting.baselines import READS_FUTURE

# The methods one series' evaluation fits (names as many series call them; `naive` is its `last_value`).
SERIES_METHODS = {"naive": "last_value", "seasonal_naive": "seasonal_naive", "ets": "ets", "theta": "theta",
                  "arima": "arima"}
AUTO = {True: (("ets", "theta"), "mean"), False: (("theta", "arima"), "median")}
AUTO_FUTURE_KNOWN = (READS_FUTURE, "mean")  # the members that read future-known features


def parse(text: str, many: bool, future_known: bool = False) -> tuple[tuple, str]:
    """`model.combine` -> (methods, "mean" or "median"); a one-line error for a method this data lacks.
    `future_known`: the data has future-known features."""
    if text.strip() == "auto":
        return AUTO_FUTURE_KNOWN if future_known else AUTO[many]
    if many:
        from keras_recurrent.tasks.forecasting.collection_baselines import parse_methods

        return parse_methods(text, "model.combine"), "mean"
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in SERIES_METHODS:
            raise UserError(f"model.combine: {name!r} is not fitted on one series; choose from "
                            f"{', '.join(SERIES_METHODS)} (or auto)")
    return tuple(dict.fromkeys(names)), "mean"


def combined(network: np.ndarray, members: list, how: str) -> np.ndarray:
    """The network's forecast and the members' (same shape), combined element by element."""
    if not members:
        return network
    stacked = np.stack([network, *members])
    return np.median(stacked, axis=0) if how == "median" else stacked.mean(axis=0)


__all__ = ["AUTO", "AUTO_FUTURE_KNOWN", "SERIES_METHODS", "combined", "parse"]

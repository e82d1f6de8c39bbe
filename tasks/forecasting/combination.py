"""What `model.combine` asks for: the network's forecast combined with classical forecasts of the same series.

Combinations beat their members: the lesson of the M competitions (M4's winners combined, its "Comb"
benchmark is a mean of three smoothers) and of this project's own measurements. Many series: the
equal-weight mean of the network, ETS and Theta (statsforecast, fitted on each training part; `many.py`).
One series: the median, step by step, of the network, Theta and ARIMA (fitted by the single series'
evaluation anyway; `baselines.py`), and where the model of M1 and M3 shipped with the package suits the
series (one target, monthly, quarterly or yearly, no longer than the longest series it read:
`pretrained.suits`), that model's forecast too, a fourth member (the median of four is the mean of the
middle two). The median keeps the middle forecasts at each step, so one member far off (a network that has
learnt a short series badly, an ARIMA that extrapolates a trend too far) does not move it; the mean moves a
third or a quarter of the way.

Chosen on data kept apart from every number reported for it: 60 M1 monthly series (two random draws, one
training seed), `benchmarks/forecasting_combination.py`, the lowest mean test MASE of the options with a
network in them (the series' own, or a global model: there a model of M3, which never read M1). With the
global model the median scored 1.066, without it 1.109 (the default before). `forecasting_short` then
measures the default on 30 random M3 monthly series (which the shipped model never read) and the three
statsmodels series (benchmarks/README.md#forecasting_combination).

With future-known features (`data.future_features`), `auto` is the mean of the network and ARIMA, which
then regresses on them (one series or many): ETS, Theta and the naive forecasts cannot read them, and a member blind to what
the user has declared known about the future would vote against it (benchmarks/README.md#forecasting_covariates).

`auto` (the default) is the combination of the data's kind; an explicit list of methods combines with
their mean and the network's (`global`, one series: the shipped model); empty is the network alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from keras_recurrent.tasks.base import UserError
from keras_recurrent.tasks.forecasting.baselines import READS_FUTURE

# The methods one series' evaluation forecasts with (names as many series call them; `naive` is its
# `last_value`, `global` the shipped model of M1 and M3).
SERIES_METHODS = {"naive": "last_value", "seasonal_naive": "seasonal_naive", "ets": "ets", "theta": "theta",
                  "arima": "arima", "global": "global_model"}


class Combination(NamedTuple):
    """What a run forecasts: its network's forecast and the `methods`', by `how`. (`network=False` leaves the
    network out: options the benchmarks score, never a run's.)"""

    methods: tuple
    how: str = "mean"  # or "median", step by step
    network: bool = True


AUTO = {True: Combination(("ets", "theta")), False: Combination(("theta", "arima"), "median")}
AUTO_PRETRAINED = Combination(("global", "theta", "arima"), "median")  # one series the shipped model suits
AUTO_FUTURE_KNOWN = Combination(READS_FUTURE)  # the members that read future-known features


def parse(text: str, many: bool, future_known: bool = False, pretrained: bool = False) -> Combination:
    """`model.combine` -> the Combination; a one-line error for a method this data lacks. `future_known`:
    the data has future-known features; `pretrained`: the shipped global model reads this one series."""
    if text.strip() == "auto":
        if future_known:
            return AUTO_FUTURE_KNOWN
        return AUTO_PRETRAINED if pretrained and not many else AUTO[many]
    if many:
        from keras_recurrent.tasks.forecasting.collection_baselines import parse_methods

        return Combination(parse_methods(text, "model.combine"))
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in SERIES_METHODS:
            raise UserError(f"model.combine: {name!r} is not fitted on one series; choose from "
                            f"{', '.join(SERIES_METHODS)} (or auto)")
    return Combination(tuple(dict.fromkeys(names)))


def resolved(text: str, info: dict) -> Combination:
    """`model.combine` for the data a run's `info` describes: auto resolved for it, and a one-line error for a
    method it lacks (`global` on a series the shipped model cannot read)."""
    from keras_recurrent.tasks.forecasting import pretrained

    many = bool(info.get("collection"))
    reads = not many and pretrained.suits(info)
    combo = parse(text, many, future_known=bool(info.get("future_features")), pretrained=reads)
    if not many and "global" in combo.methods:
        pretrained.require(info)
    return combo


def combined(network: np.ndarray, members: list, how: str, with_network: bool = True) -> np.ndarray:
    """The network's forecast (unless not `with_network`) and the members' (same shape), combined element
    by element."""
    if not members:
        return network
    stacked = np.stack([network, *members] if with_network else members)
    return np.median(stacked, axis=0) if how == "median" else stacked.mean(axis=0)


__all__ = ["AUTO", "AUTO_FUTURE_KNOWN", "AUTO_PRETRAINED", "SERIES_METHODS", "Combination", "combined", "parse", "resolved"]

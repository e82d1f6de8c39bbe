"""Chronological splits, scaling statistics of the training part only, and windows streamed by tf.data.

A forecast *origin* t uses the `window` values before it, `values[t - window : t]`, to predict the
`horizon` values from it, `values[t : t + horizon]`. The series is cut in time, never shuffled across
the cut: training origins have their whole target inside the training part, validation and test origins
start inside their own part (their input window may reach back into the part before: that is history
a forecaster would have). Windows come from `keras.utils.timeseries_dataset_from_array`, which slices
them from one array on the fly: a series of millions of steps never has its windows all in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import UserError


@dataclass
class Split:
    """Where the parts end: train is [0, train_end), validation [train_end, validation_end), test the rest."""

    length: int
    window: int
    horizon: int
    train_end: int
    validation_end: int

    def origins(self, part: str) -> range:
        """Every forecast origin of a part (the first step each window predicts)."""
        first, end = {"train": (self.window, self.train_end), "validation": (self.train_end, self.validation_end),
                      "test": (self.validation_end, self.length)}[part]
        return range(first, end - self.horizon + 1)


def split(length: int, window: int, horizon: int, validation_fraction: float, test_fraction: float,
          where: str = "the series") -> Split:
    """Cut `length` steps in time; raise UserError when a part cannot hold one window and horizon."""
    held = [max(horizon, int(round(length * f))) for f in (validation_fraction, test_fraction)]
    train_end = length - sum(held)
    need = window + horizon + sum(held)
    if train_end < window + horizon:
        raise UserError(f"{where}: {length} rows are too few for data.window={window} and data.horizon={horizon} "
                        f"(need at least {need} with the validation and test parts); lower them or give more data")
    return Split(length, window, horizon, train_end, train_end + held[0])


@dataclass
class Scaler:
    """Per-target mean and standard deviation of the training part only (the models standardise with them)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, names: list, where: str) -> "Scaler":
        scale = values.std(axis=0)
        for name, s in zip(names, scale):
            if not s > 0:
                raise UserError(f"{where}: column {name!r} is constant over the training part; nothing to learn "
                                f"from it (and a target's MASE denominator would be zero)")
        return cls(values.mean(axis=0), scale)

    def to_info(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}


def windows(values: np.ndarray, origins: range, window: int, horizon: int, inputs: np.ndarray | None = None,
            future: np.ndarray | None = None):
    """An element-wise dataset of (input window (window, k[+f]), target (horizon, k)) for each origin.

    `inputs` (steps, k + f) is what the window reads when there are feature columns; default `values`.
    With `future` (steps, g), the future-known features, the input is (window, their `horizon` values
    from the origin on).
    """
    import keras
    import tensorflow as tf

    first, last = origins.start, origins.stop - 1
    source = values if inputs is None else inputs
    inputs = keras.utils.timeseries_dataset_from_array(
        source[first - window: last], None, sequence_length=window, batch_size=None)
    targets = keras.utils.timeseries_dataset_from_array(
        values[first: last + horizon], None, sequence_length=horizon, batch_size=None)
    if future is not None:
        ahead = keras.utils.timeseries_dataset_from_array(
            future[first: last + horizon], None, sequence_length=horizon, batch_size=None)
        inputs = tf.data.Dataset.zip((inputs, ahead))
    return tf.data.Dataset.zip((inputs, targets))


def window_elements(values: np.ndarray, origins: range, window: int, horizon: int, inputs: np.ndarray | None = None,
                    future: np.ndarray | None = None):
    """The windows of `windows()` as (count, fn(i) -> (input, target)), sliced from tensors on demand."""
    import tensorflow as tf

    source = tf.constant(values if inputs is None else inputs)
    series = tf.constant(values)
    ahead = None if future is None else tf.constant(future)
    first, k, width = origins.start, values.shape[1], source.shape[1]

    def element(i):
        t = tf.cast(i, tf.int64) + first
        x = tf.reshape(source[t - window: t], (window, width))
        if ahead is not None:
            x = (x, tf.reshape(ahead[t: t + horizon], (horizon, ahead.shape[1])))
        return x, tf.reshape(series[t: t + horizon], (horizon, k))

    return len(origins), element


def window_array(values: np.ndarray, origins, window: int, horizon: int,
                 inputs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The same windows as NumPy arrays, for a selection of origins (evaluation, baselines)."""
    origins = np.asarray(list(origins))
    source = values if inputs is None else inputs
    return np.stack([source[t - window: t] for t in origins]), horizon_array(values, origins, horizon)


def horizon_array(values: np.ndarray, origins, horizon: int) -> np.ndarray:
    """The `horizon` rows of `values` from each origin on: (origins, horizon, columns). The targets of
    `window_array`, and the future-known features each forecast reads."""
    return np.stack([values[t: t + horizon] for t in np.asarray(list(origins))])


def evaluation_origins(origins: range, limit: int) -> np.ndarray:
    """At most `limit` origins spread evenly over `origins` (all of them when limit is 0 or larger)."""
    all_origins = np.arange(origins.start, origins.stop)
    if not limit or len(all_origins) <= limit:
        return all_origins
    return all_origins[np.unique(np.linspace(0, len(all_origins) - 1, limit).round().astype(int))]


__all__ = ["Scaler", "Split", "evaluation_origins", "horizon_array", "split", "window_array", "window_elements",
           "windows"]

"""Training windows pooled from every series of a collection, for one global model.

Each series is first seasonally adjusted as M4's Naive2 and Theta adjust it: divided by the indices of a
classical multiplicative decomposition of its training part, when the 90% autocorrelation test finds a
season (`competition.seasonal_indices`; ones otherwise). The network reads and forecasts the adjusted
series; the task multiplies the indices back onto the forecast. This is the exponential-smoothing half of
ES-RNN (Smyl, "A hybrid method of exponential smoothing and recurrent neural networks for time series
forecasting", IJF 2020) in its classical, fixed form; the level half is the per-window scaling inside the
model (`models.scaled_per_window`).

Every series sits in one flat array behind `window` zeros (and before `horizon` zeros), so a window
that reaches before a short series' first point is padded, its padded steps marked unobserved, never
dropped. A window element is (inputs (window, 2 + subsets), target (horizon,), weight (horizon,)):

- inputs: the adjusted value (0 where padded), whether it was observed, and the series' subset one-hot
  (M3's yearly and monthly series behave differently; the model is told which it reads), then any
  future-known features (`data.future_features`, in their own units: the model standardises them);
- target: the adjusted values after the window;
- weight: 1 / (the window's mean absolute observed value) where the target step is in the part being
  fitted and within the series' horizon, else 0, so the loss is the error in the window's own scale
  (a series in millions does not drown one in tens) and padding is never scored.

With future-known features the inputs are (that window, the features over the horizon after it): a
series' features run on past its training part, over the steps it is forecast for, so every window's
horizon reads them.

Validation: the last `horizon` training points of each series whose training part is long enough to
give them up (`MIN_TRAIN` left before them) are its validation targets, forecast from the window that
ends before them; training windows never score them. Series too short to give them up train on all of
their points and have no validation window. The test window of each series ends at the end of its
training part (it reads the validation points as history, as a forecaster would) and its targets are the
official test part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting.collection import MIN_TRAIN, Collection

MIN_CONTEXT = 2  # observed points a training window needs before its first target


def channels(subsets: list, features: int = 0) -> int:
    return 2 + len(subsets) + features


def window_levels(inputs: np.ndarray) -> np.ndarray:
    """(windows,) the level each input window is scaled by: its mean absolute observed value (+1e-8), as
    `element_fn` computes it for the training weights and the model for its scaling."""
    seen = inputs[..., 1]
    return np.abs(inputs[..., 0] * seen).sum(axis=-1) / np.maximum(seen.sum(axis=-1), 1.0) + 1e-8


def input_window(adjusted: np.ndarray, window: int, subset: int, subsets: int,
                 known: np.ndarray | None = None) -> np.ndarray:
    """The model's input for a forecast after `adjusted` (the last `window` points, left-padded), with the
    future-known features `known` over the same points."""
    g = 0 if known is None else known.shape[1]
    x = np.zeros((window, 2 + subsets + g), dtype="float32")
    tail = adjusted[-window:]
    x[window - len(tail):, 0] = tail
    x[window - len(tail):, 1] = 1.0
    x[:, 2 + subset] = 1.0
    if g:
        x[window - len(tail):, 2 + subsets:] = known[len(known) - len(tail):]
    return x


@dataclass
class GlobalWindows:
    """A collection laid out for windowing: flat arrays, each series' start, and the origins of each part."""

    values: np.ndarray    # (N,) adjusted values, 0 in the padding
    observed: np.ndarray  # (N,) 1 where a value was observed
    subset: np.ndarray    # (N,) the subset index of the series a position belongs to
    fitted: np.ndarray    # (N,) 1 where a training window may score the position
    held: np.ndarray      # (N,) 1 where a validation window scores it
    starts: np.ndarray    # position of each series' first point
    train_origins: np.ndarray
    validation_origins: np.ndarray
    indices: list         # each series' seasonal indices
    window: int
    horizon: int
    subsets: list
    known: np.ndarray | None = None  # (N, features) future-known features, 0 in the padding

    def element_fn(self, origins: np.ndarray, scored: np.ndarray):
        """(count, fn(i) -> (inputs, target, weight)) for windows whose first target is origins[i]."""
        import tensorflow as tf

        w, h, g = self.window, self.horizon, len(self.subsets)
        f = 0 if self.known is None else self.known.shape[1]
        known = tf.constant(self.known if f else np.zeros((1, 0)), tf.float32)
        values, observed = tf.constant(self.values, tf.float32), tf.constant(self.observed, tf.float32)
        subset, scored_t = tf.constant(self.subset, tf.int32), tf.constant(scored, tf.float32)
        origins_t = tf.constant(origins, tf.int64)

        def element(i):
            t = origins_t[tf.cast(i, tf.int64)]
            x, seen = values[t - w: t], observed[t - w: t]
            one_hot = tf.tile(tf.one_hot(subset[t - 1], g)[None], [w, 1])
            parts = [x[:, None], seen[:, None], one_hot] + ([known[t - w: t]] if f else [])
            inputs = tf.reshape(tf.concat(parts, axis=1), (w, 2 + g + f))
            scale = tf.reduce_sum(tf.abs(x) * seen) / tf.maximum(tf.reduce_sum(seen), 1.0) + 1e-8
            weight = tf.reshape(scored_t[t: t + h] / scale, (h,))
            target = tf.reshape(values[t: t + h], (h, 1))
            if f:
                return (inputs, tf.reshape(known[t: t + h], (h, f))), target, weight
            return inputs, target, weight

        return len(origins), element

    def dataset(self, part: str):
        import tensorflow as tf

        origins, scored = ((self.train_origins, self.fitted) if part == "train"
                           else (self.validation_origins, self.held))
        count, element = self.element_fn(origins, scored)
        return tf.data.Dataset.range(count).map(element), (count, element)


def lay_out(collection: Collection, window: int, subsets: list) -> GlobalWindows:
    horizon = collection.horizon
    sizes = [len(t) for t in collection.train]
    total = sum(window + n + horizon for n in sizes)
    values, observed = np.zeros(total, "float32"), np.zeros(total, "float32")
    known = None if collection.future is None else np.zeros((total, len(collection.future_names)), "float32")
    subset, fitted, held = np.zeros(total, "int32"), np.zeros(total, "float32"), np.zeros(total, "float32")
    starts, train_origins, validation_origins, indices = [], [], [], []
    at = 0
    for i, (train, period, h, name) in enumerate(zip(collection.train, collection.periods, collection.horizons,
                                                     collection.subsets)):
        n, start = len(train), at + window
        ix = competition.seasonal_indices(train, int(period))  # ones when it shows no season
        indices.append(ix)
        values[start: start + n] = train / competition.indices_at(ix, np.arange(n))
        observed[start: start + n] = 1.0
        if known is not None:  # the training part and the steps after it (at most the layout's horizon)
            ahead = collection.future[i][: n + horizon]
            known[start: start + len(ahead)] = ahead
        subset[at: start + n + horizon] = subsets.index(name) if name in subsets else 0
        cut = n - int(h) if n - int(h) >= MIN_TRAIN else n  # short series keep every point for training
        fitted[start: start + cut] = 1.0
        if cut < n:
            held[start + cut: start + n] = 1.0
            validation_origins.append(start + cut)
        train_origins.extend(range(start + MIN_CONTEXT, start + cut))
        starts.append(start)
        at = start + n + horizon
    return GlobalWindows(values, observed, subset, fitted, held, np.array(starts), np.array(train_origins, "int64"),
                         np.array(validation_origins, "int64"), indices, window, horizon, subsets, known)


def test_inputs(collection: Collection, layout: GlobalWindows):
    """The model's inputs for each series' forecast from the end of its training part: (series, window,
    channels), or with future-known features [that, (series, horizon, features) over the steps ahead]."""
    g = len(layout.subsets)
    known = layout.known
    windows = np.stack([input_window(layout.values[s: s + len(t)], layout.window,
                                     layout.subsets.index(name) if name in layout.subsets else 0, g,
                                     None if known is None else known[s: s + len(t)])
                        for s, t, name in zip(layout.starts, collection.train, collection.subsets)])
    if known is None:
        return windows
    ahead = np.stack([known[s + len(t): s + len(t) + layout.horizon] for s, t in zip(layout.starts, collection.train)])
    return [windows, ahead]


def readjusted(forecasts: np.ndarray, collection: Collection, layout: GlobalWindows) -> list:
    """Each series' forecast (its own horizon) back in original units: times its seasonal indices."""
    out = []
    for f, train, h, ix in zip(forecasts, collection.train, collection.horizons, layout.indices):
        n = len(train)
        out.append(np.asarray(f[: int(h)], "float64") * competition.indices_at(ix, np.arange(n, n + int(h))))
    return out


__all__ = ["GlobalWindows", "channels", "input_window", "lay_out", "readjusted", "test_inputs", "window_levels"]

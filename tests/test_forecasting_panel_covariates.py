"""Future-known features of many series (a long CSV's `data.future_features` and `data.calendar`): each
series' own over its windows and horizons, a global model that learns them, ARIMA's regression on them,
predict's steps ahead, export, and their bad forms."""

import json

import numpy as np
import pandas as pd
import pytest

from keras_recurrent.pipelines.cli import main
from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.tasks import UserError, get_task

TASK = get_task("forecasting")


def _config(*settings, model="gru"):
    return resolve_config(TASK, model=model, quick=True, overrides=["data.targets=sales", *settings])


def _shops(path, shops=6, days=100, ahead=0, seed=0, blank=None):
    """A long CSV of daily sales of several shops, each lifted by half its level on its promotion days
    (random, planned: known ahead). The last `ahead` rows of each shop are steps to forecast: promotions
    given, sales blank; `blank` = (shop, step ahead) leaves that promotion blank too."""
    rng = np.random.default_rng(seed)
    lines = ["shop,day,sales,promo"]
    for i in range(shops):
        n = days + 5 * i
        promo = (rng.random(n + ahead) < 0.25).astype(int)
        t = np.arange(n + ahead)
        level = 20.0 * (i + 1)
        sales = level * (1 + 0.1 * np.sin(2 * np.pi * t / 7)) + rng.normal(0, 0.02 * level, n + ahead) + level / 2 * promo
        for j, day in enumerate(pd.date_range("2021-01-01", periods=n + ahead, freq="D")):
            known = "" if blank == (i, j - n + 1) else str(promo[j])
            lines.append(f"shop{i},{day.date()},{f'{sales[j]:.3f}' if j < n else ''},{known}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _promos(path):
    frame = pd.read_csv(path)
    return {shop: rows["promo"].to_numpy() for shop, rows in frame.groupby("shop", sort=False)}


def test_a_long_csv_reads_each_series_future_features_over_its_windows_and_horizons(tmp_path):
    path = _shops(tmp_path / "shops.csv", shops=3, days=40)
    config = _config("data.id_column=shop", "data.future_features=promo", "data.horizon=4")
    data = TASK.load(path, config.data, 0)
    info, layout = data.info, data.extras["layout"]
    promos = _promos(path)
    assert info["future_features"] == ["promo"] and info["channels"] == 2 + 1 + 1 and "arima" in info["baselines"]
    # Every training window reads its own series' promotions over the window and over the horizon after it.
    size, element = data.train_elements
    starts = list(layout.starts)
    for i in range(0, size, 7):
        (inputs, future), target, weight = element(np.int64(i))
        inputs, future = np.asarray(inputs), np.asarray(future)
        t = int(layout.train_origins[i])
        series = max(k for k, s in enumerate(starts) if s <= t)
        promo, at = promos[f"shop{series}"], t - starts[series]
        seen = inputs[:, 1] > 0
        np.testing.assert_array_equal(inputs[seen, -1], promo[max(0, at - 8): at])
        assert not inputs[~seen, -1].any()  # padding reads no feature
        np.testing.assert_array_equal(future[:, 0], promo[at: at + 4])
    # The test window of each series reads the promotions of its test part, the steps it is scored on.
    for k, ((window, future), target, weight) in enumerate(data.test.as_numpy_iterator()):
        promo = promos[f"shop{k}"]
        np.testing.assert_array_equal(future[:, 0], promo[-4:])
        np.testing.assert_array_equal(window[:, -1], promo[-12:-4])


def test_a_collection_learns_from_future_features_predicts_with_them_and_exports(tmp_path, capsys, monkeypatch):
    from keras_recurrent.pipelines import exporting as ex
    from keras_recurrent.pipelines import verbs

    monkeypatch.setenv("KERAS_RECURRENT_CACHE", str(tmp_path / "cache"))
    path = _shops(tmp_path / "shops.csv")
    run = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", path, "--run-dir", run, "--quick", "--quiet",
                 "--set", "data.id_column=shop", "--set", "data.future_features=promo", "--set", "data.horizon=7",
                 "--set", "train.epochs=10", "--set", "train.batch_size=32", "--set", "train.learning_rate=3e-3",
                 "--set", "model.units=16", "--set", "data.baselines=seasonal_naive,ets,theta"]) == 0
    metrics = json.load(open(f"{run}/metrics.json"))
    base = metrics["baselines"]
    # ARIMA regresses on the promotions, the combination's other member; the network alone, which learnt
    # them, beats every method blind to them.
    assert metrics["combined_with"] == ["arima"] and base["arima"]["mase"] < 0.5 * base["ets"]["mase"]
    assert set(base) == {"seasonal_naive", "naive2", "ets", "theta", "arima"}  # the features add their reader
    assert metrics["network"]["mase"] < min(base[m]["mase"] for m in ("seasonal_naive", "ets", "theta"))
    # Predict reads each shop's promotions ahead; one promotion flipped moves that step's forecast.
    history = _shops(tmp_path / "history.csv", ahead=7)
    flipped = tmp_path / "flipped.csv"
    frame = pd.read_csv(history, dtype={"sales": str})
    row = frame.index[(frame["shop"] == "shop2") & frame["sales"].isna()][3]
    frame.loc[row, "promo"] = 1 - frame.loc[row, "promo"]
    frame.to_csv(flipped, index=False)
    task, config, info, model = verbs.load_run(run)
    for combine in ("auto", ""):  # the combination, and the network alone
        config.model.combine = combine
        same, other = (pd.DataFrame(task.predict(model, [source], info, config)) for source in (history, str(flipped)))
        assert len(same) == 6 * 7 and list(same.columns) == ["id", "time", "value"]
        moved = (same["value"] - other["value"]).abs()
        # Only that shop moves (MQ-RNN's global layer reads every step ahead), that step the most.
        assert set(same.index[moved > 1e-6]) <= set(range(14, 21)) and int(moved.idxmax()) == 2 * 7 + 3, combine
    capsys.readouterr()
    # No steps ahead, or a blank promotion among them: one line each, nothing written.
    for source, message in ((path, "shop0': 0 row(s) after the last value; the model reads promo over 7 steps"),
                            (_shops(tmp_path / "blank.csv", ahead=7, blank=(1, 3)), "shop1': step 3 ahead")):
        target = tmp_path / "never.csv"
        assert main(["predict", run, source, "--output", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and not target.exists()
    # Evaluated on the same shops without the features: refused, named.
    with pytest.raises(UserError, match="data.future_features=: the model was trained on promo"):
        verbs.evaluate(run, data=path, set=["data.future_features=", "data.targets=sales"], quiet=True)
    # The export serves both inputs, TFLite included.
    data = TASK.load(path, _config("data.id_column=shop", "data.future_features=promo", "data.horizon=7").data, 0,
                     run_info=json.load(open(f"{run}/data_info.json")))
    inputs = ex._real_inputs(data.test, 4)
    lite = ex._export_tflite(TASK, model, data.info, inputs, str(tmp_path), "none", None)
    assert lite["agreement"] == 1.0


def test_baselines_of_a_collection_are_cached_per_future_features(tmp_path):
    from keras_recurrent.tasks.forecasting import collection_baselines as cb

    path = _shops(tmp_path / "shops.csv", shops=2, days=40)
    config = _config("data.id_column=shop", "data.future_features=promo", "data.horizon=4")
    collection = TASK.load(path, config.data, 0).extras["collection"]
    key = cb.cache_key(collection)
    collection.future[1][-2, 0] = 1 - collection.future[1][-2, 0]  # a promotion over a test step changed
    assert cb.cache_key(collection) != key


def test_a_collection_reads_its_calendar_and_predicts_without_rows_ahead(tmp_path, monkeypatch):
    from keras_recurrent.pipelines import verbs

    monkeypatch.setenv("KERAS_RECURRENT_CACHE", str(tmp_path / "cache"))
    path = _shops(tmp_path / "shops.csv", shops=3, days=40)
    run = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", path, "--run-dir", run, "--quick", "--quiet",
                 "--set", "data.id_column=shop", "--set", "data.targets=sales", "--set", "data.calendar=dayofweek",
                 "--set", "data.horizon=4", "--set", "data.baselines=naive2", "--set", "model.combine="]) == 0
    task, config, info, model = verbs.load_run(run)
    assert info["future_features"] == ["dayofweek_sin", "dayofweek_cos"]
    rows = task.predict(model, [path], info, config)  # the calendar of the 4 days after each shop's last
    assert len(rows) == 3 * 4 and rows[0]["time"] == "2021-02-10" and rows[-1]["time"] == "2021-02-23"
    from keras_recurrent.tasks.forecasting import calendar as fcal
    from keras_recurrent.tasks.forecasting import collection as fc

    histories = fc.from_long_csv(path, config.data, hold_out=False)
    days = pd.date_range("2021-01-01", periods=44)
    np.testing.assert_allclose(histories.future[0], fcal.columns(days, ["dayofweek"]), atol=1e-12)

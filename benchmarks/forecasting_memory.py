"""Forecasting memory benchmark: a series of a million steps trains with flat memory.

Each length runs in a child process (its own peak resident memory), training the default forecaster on a
generated series (trend + seasonality + noise) for one epoch with the Keras progress bar on, evaluating
from the capped test origins beside every baseline. A callback samples the resident set every 100 batches:
flat memory means the samples stay level through the epoch and the peak grows far less than the windows
would take if they were materialised (steps x (window + horizon) x 4 bytes).

Run: `python -m benchmarks.forecasting_memory [--lengths 100000,1000000]`; writes
benchmarks/results/forecasting_memory.json.
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

from benchmarks.common import write_result

SETTINGS = ["data.window=24", "data.horizon=12", "train.batch_size=256", "train.epochs=1"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def child(length: int, out: str) -> None:
    import keras

    from keras_recurrent import pipelines

    samples = []

    class Sampler(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch % 100 == 0:
                samples.append([batch, round(_rss_mb(), 1)])

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        run = pipelines.train("forecasting", data=f"generated:{length}", set=SETTINGS, root=root,
                              callbacks=[Sampler()])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out, "w") as f:
        json.dump({"length": length, "peak_rss_mb": round(peak, 1), "rss_samples_mb": samples,
                   "seconds": round(time.perf_counter() - started, 1), "mase": run.metrics["mase"],
                   "baselines_mase": {k: v["mase"] for k, v in run.metrics["baselines"].items()},
                   "test_origins": run.metrics["test_origins"]}, f)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="100000,1000000")
    parser.add_argument("--child", nargs=2, metavar=("LENGTH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(int(args.child[0]), args.child[1])
    rows = []
    for length in [int(n) for n in args.lengths.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.json")
            subprocess.run([sys.executable, "-m", "benchmarks.forecasting_memory", "--child", str(length), out],
                           check=True)
            row = json.load(open(out))
        rss = [s[1] for s in row["rss_samples_mb"]]
        quarter = max(1, len(rss) // 4)
        row["rss_first_quarter_mean_mb"] = round(sum(rss[:quarter]) / quarter, 1)
        row["rss_last_quarter_mean_mb"] = round(sum(rss[-quarter:]) / quarter, 1)
        row["materialised_windows_would_take_mb"] = round(length * (24 + 12) * 4 / 2 ** 20, 1)
        rows.append(row)
        print(f"{length:,} steps: peak {row['peak_rss_mb']} MB, {row['seconds']} s", flush=True)
    growth = rows[-1]["peak_rss_mb"] - rows[0]["peak_rss_mb"] if len(rows) > 1 else None
    write_result("forecasting_memory", {"settings": {"seed": 1337, "train": SETTINGS}, "runs": rows,
                                        "peak_growth_mb": growth})


if __name__ == "__main__":
    main()

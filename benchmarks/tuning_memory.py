"""Resident memory across the trials of a sweep: flat with the pipeline's per-trial `clear_session`,
growing without it (the baseline, the same sweep with `keras.backend.clear_session` made a no-op).

Each variant runs `pipelines.tune` (random search, `--max-trials`, the task's quick settings and
default space) in its own child process, which records its resident set size (psutil) at the end of
every trial. Reported: RSS after the first trial, after the last, the growth per trial over the second
half (a least-squares slope), and the peak.

Run: `python -m benchmarks.tuning_memory [--task sentiment] [--trials 20]`;
writes benchmarks/results/tuning_memory.json and tuning_memory.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import RESULTS, write_result  # noqa: E402

CHILD = """
import json, sys, keras, psutil
from keras_recurrent.pipelines import tuning
task, trials, root, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "clear"
if not keep:
    keras.backend.clear_session = lambda *a, **k: None
rss = []
log = tuning._log_trial
def logged(*args, **kwargs):
    log(*args, **kwargs)
    rss.append(psutil.Process().memory_info().rss / 2**20)
tuning._log_trial = logged
tuning.tune(task, max_trials=trials, quick=True, quiet=True, root=root, space=["model.units=8:64", "train.learning_rate=1e-4:1e-2:log"])
print(json.dumps(rss))
"""


def run_variant(task: str, trials: int, clear: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as root:
        done = subprocess.run([sys.executable, "-c", CHILD, task, str(trials), root, "clear" if clear else "keep"],
                              capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(rss: list[float]) -> dict:
    half = rss[len(rss) // 2:]
    slope = float(np.polyfit(np.arange(len(half)), half, 1)[0]) if len(half) > 1 else 0.0
    return {"rss_mib_by_trial": [round(v, 1) for v in rss], "after_first_mib": round(rss[0], 1),
            "after_last_mib": round(rss[-1], 1), "peak_mib": round(max(rss), 1),
            "growth_mib_per_trial_second_half": round(slope, 2)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    variants = {}
    for name, clear in (("clear_session_per_trial", True), ("no_clear_session_baseline", False)):
        print(f"{name} ...", flush=True)
        variants[name] = summarise(run_variant(args.task, args.trials, clear))
        print(f"  {variants[name]}", flush=True)

    import matplotlib.pyplot as plt

    from keras_recurrent.pipelines.rundir import save_figure

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, row in variants.items():
        ax.plot(range(1, len(row["rss_mib_by_trial"]) + 1), row["rss_mib_by_trial"], "o-", label=name)
    ax.set_xlabel("trial")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title(f"recurrent tune {args.task}: memory across {args.trials} trials")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, os.path.join(RESULTS, "tuning_memory.png"))
    write_result("tuning_memory", {"settings": {"task": args.task, "trials": args.trials, "quick": True, "seed": 0},
                                   "variants": variants})


if __name__ == "__main__":
    main()

"""bAbI benchmark: MemN2N beside the LSTM reader, with the task's defaults, on generated and real stories.

- generated task 1 (the offline default): MemN2N over several seeds (target: >= 99% accuracy);
- the real bAbI 1k files in ../shared/data/babi (`recurrent train babi --data DIR --set data.tasks=N`), each
  task trained on its own, MemN2N and LSTM: test error per task beside the paper's reference numbers
  (the authors' code, 3 hops, PE LS RN, 1k, tasks trained one by one: mean 13.8%).

MemN2N trains `--restarts` times a real task (seeds from the first) and the run best on the validation
split is kept: the paper's remedy for its large variance on 1k examples (it kept the best of 10 by
training error); the first seed's error is reported beside it. Restarts stop early once a run answers
every validation question (`--enough`), and `--reuse` takes runs already in the results (same task, model
and seed) instead of training them again. The LSTM reader trains once.

Run: `python -m benchmarks.babi_quality [--tasks 1,2,...,20] [--models memn2n,lstm] [--seeds 1,2,3]
[--restarts 5] [--enough 1.0] [--reuse] [--skip-generated]`; writes (merging, so parts can run in separate processes)
benchmarks/results/babi_quality.json and babi_errors.png.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import RESULTS, SHARED_DATA, previous_result, write_result

REFERENCE = {1: 0.1, 2: 8.2, 3: 41.8}  # MemN2N 1k, PE LS RN, one task at a time (the quoted numbers)
REFERENCE_MEAN = 13.8
BABI = os.path.realpath(os.path.join(SHARED_DATA, "babi", "tasks_1-20_v1-2", "en"))
# The authors' joint configuration (config_babi_joint.m): d = 50, 30 epochs of linear start, then 60 with
# the rate halved every 15; the rest as for one task (the same SGD rate per example, clipping, noise).
JOINT = ["data.tasks=all", "model.embedding_dim=50", "model.linear_start_epochs=30", "model.halve_lr_every=15",
         "train.epochs=90", "data.unseen_answers=wrong"]
REFERENCE_JOINT_MEAN = 12.4


def main(argv=None) -> None:
    from keras_recurrent import pipelines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(str(t) for t in range(1, 21)))
    parser.add_argument("--models", default="memn2n,lstm")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--joint", action="store_true",
                        help="instead of one task at a time: MemN2N trained once on all 20 tasks together")
    parser.add_argument("--joint-run-dir", help="the joint run's directory (kept; a finished run there is read back)")
    parser.add_argument("--restarts", type=int, default=5,
                        help="MemN2N runs a real task (seeds from the first), the one best on validation kept")
    parser.add_argument("--enough", type=float, default=1.0,
                        help="no further restart once a run's validation accuracy reaches this (the validation split "
                             "decides, never the test set)")
    parser.add_argument("--reuse", action="store_true",
                        help="take the runs of the same task, model and seed from the last results instead of "
                             "training them again (only while the task's defaults are unchanged)")
    args = parser.parse_args(argv)
    with previous_result("babi_quality") as previous:
        earlier = previous.get("real", {}) if args.reuse else {}
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.joint:
        return _joint(seeds[0], args.joint_run_dir)
    result = {"settings": {"seed": seeds[0], "seeds": seeds}, "generated": {}, "real": {}}
    with tempfile.TemporaryDirectory() as root:
        if not args.skip_generated:
            runs = []
            for seed in seeds:
                started = time.perf_counter()
                run = pipelines.train("babi", seed=seed, quiet=True, run_dir=os.path.join(root, f"generated-{seed}"))
                runs.append({"seed": seed, "accuracy": run.metrics["accuracy"], "seconds": round(time.perf_counter() - started, 1),
                             "epochs": run.metrics["epochs_trained"]})
                print(f"generated task 1, seed {seed}: {runs[-1]}", flush=True)
            accuracies = [r["accuracy"] for r in runs]
            result["generated"] = {"runs": runs, "accuracy_mean": float(np.mean(accuracies)),
                                   "accuracy_min": float(np.min(accuracies)),
                                   "target": {"claim": "accuracy >= 0.99 for every seed", "met": bool(min(accuracies) >= 0.99)}}
        if os.path.isdir(BABI):
            for task in (int(t) for t in args.tasks.split(",")):
                row = {"reference_error_percent": REFERENCE.get(task)}
                for model in args.models.split(","):
                    tries = []
                    done = {t["seed"]: t for t in earlier.get(str(task), {}).get(model, {}).get("tries", [])}
                    for restart in range(args.restarts if model == "memn2n" else 1):
                        if tries and max(t["validation_accuracy"] or 0.0 for t in tries) >= args.enough:
                            break  # a run already answers every validation question: nothing left to choose
                        if seeds[0] + restart in done:
                            tries.append({**done[seeds[0] + restart], "reused": True})
                            continue
                        started = time.perf_counter()
                        path = os.path.join(root, f"real-{task}-{model}-{restart}")
                        run = pipelines.train("babi", model=model, data=BABI, seed=seeds[0] + restart, quiet=True,
                                              set=[f"data.tasks={task}", "data.unseen_answers=wrong"], run_dir=path)
                        kept = _kept_epoch(path, run.metrics)
                        tries.append({"seed": seeds[0] + restart, "error_percent": run.metrics["error_percent"],
                                      "validation_accuracy": kept.get("val_accuracy"), "validation_loss": kept.get("val_loss"),
                                      "epochs": run.metrics["epochs_trained"], "seconds": round(time.perf_counter() - started, 1)})
                    # The paper's remedy for runs that fail by their initialisation: several, one kept. It kept
                    # the lowest training error; here the validation split decides (accuracy, then loss).
                    chosen = max(tries, key=lambda t: (t["validation_accuracy"] or 0.0, -(t["validation_loss"] or 0.0)))
                    row[model] = {**chosen, "restarts": len(tries), "first_seed_error_percent": tries[0]["error_percent"],
                                  "tries": tries}
                print(f"bAbI task {task}: {row}", flush=True)
                result["real"][str(task)] = row
    with previous_result("babi_quality") as previous:
        result["generated"] = result["generated"] or previous.get("generated", {})
        if "joint" in previous:
            result["joint"] = previous["joint"]
        for task, row in previous.get("real", {}).items():
            result["real"][task] = {**row, **result["real"].get(task, {})}
        real = result["real"]
        for model in ("memn2n", "lstm"):
            errors = [row[model]["error_percent"] for row in real.values() if model in row]
            if errors:
                result[f"{model}_mean_error_percent"] = float(np.mean(errors))
        if len(real) == 20 and all("memn2n" in r and "lstm" in r for r in real.values()):
            below = sum(r["memn2n"]["error_percent"] < r["lstm"]["error_percent"] for r in real.values())
            result["target"] = {"claim": "mean error <= 15% and below the LSTM on >= 15 of 20 tasks",
                                "memn2n_below_lstm": below,
                                "met": bool(result["memn2n_mean_error_percent"] <= 15.0 and below >= 15)}
        result["reference_mean_error_percent"] = REFERENCE_MEAN
        write_result("babi_quality", result)
        _plot(result)


def _joint(seed: int, run_dir: str | None) -> None:
    """All 20 tasks in one model (the paper's joint training), test error per task."""
    from keras_recurrent import pipelines

    with tempfile.TemporaryDirectory() as root:
        path = run_dir or os.path.join(root, "joint")
        started = time.perf_counter()
        run = pipelines.train("babi", model="memn2n", data=BABI, seed=seed, set=JOINT, run_dir=path)
        kept = _kept_epoch(path, run.metrics)
    by_task = dict(run.metrics["error_percent_by_task"])  # keyed by the task's number as a string, as `real` is
    joint = {"seed": seed, "settings": JOINT, "error_percent_by_task": by_task,
             "mean_error_percent": float(np.mean(list(by_task.values()))), "error_percent": run.metrics["error_percent"],
             "validation_accuracy": kept.get("val_accuracy"), "epochs": run.metrics["epochs_trained"],
             "seconds": None if run.already_finished else round(time.perf_counter() - started, 1),
             "reference_mean_error_percent": REFERENCE_JOINT_MEAN}
    print(f"bAbI joint: {joint}", flush=True)
    with previous_result("babi_quality") as previous:
        kept = {k: v for k, v in previous.items() if k not in ("benchmark", "finished", "environment")}
        write_result("babi_quality", {**kept, "joint": joint})


def _kept_epoch(path: str, metrics: dict) -> dict:
    """The history row of the epoch whose weights the run kept (its validation metrics)."""
    from keras_recurrent.pipelines.callbacks import read_history

    history = read_history(os.path.join(path, "history.csv"))
    epoch = metrics.get("best_epoch", len(history))
    return next((row for row in history if row["epoch"] + 1 == epoch), history[-1] if history else {})


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = result["real"]
    if not real:
        return
    tasks = sorted(real, key=int)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    joint = result.get("joint", {}).get("error_percent_by_task", {})
    bars = [("memn2n, one task", [real[t]["memn2n"]["error_percent"] if "memn2n" in real[t] else np.nan for t in tasks])]
    if joint:
        bars.append(("memn2n, 20 tasks jointly", [joint.get(t, np.nan) for t in tasks]))
    bars.append(("lstm reader", [real[t]["lstm"]["error_percent"] if "lstm" in real[t] else np.nan for t in tasks]))
    width = 0.8 / len(bars)
    for i, (label, values) in enumerate(bars):
        ax.bar(np.arange(len(tasks)) + (i - (len(bars) - 1) / 2) * width, values, width, label=label)
    ref = [real[t].get("reference_error_percent") for t in tasks]
    ax.scatter([i for i, r in enumerate(ref) if r is not None], [r for r in ref if r is not None], color="black",
               marker="_", s=200, label="paper (MemN2N)")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_xlabel("bAbI task")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "babi_errors.png"), dpi=110)


if __name__ == "__main__":
    main()

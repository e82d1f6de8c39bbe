"""NTM benchmark: copy and associative recall against the LSTM baseline on the same time budget.

Each model trains with the task's defaults (`recurrent train copy --model M`), stopped by a wall-clock
budget (`--minutes`, the issue's 60 by default) instead of an epoch count, then is evaluated on lengths
it never saw through `recurrent evaluate RUN --set data.min_length=L --set data.max_length=L`. Targets
(issue 14): NTM copy below 0.1 bit errors per sequence at length 20 within 60 minutes on this 2-core CPU,
and fewer errors than the LSTM at lengths 40 and 60; associative recall below 1 bit error at 6 items,
reported at 8 to 12 items beside the LSTM. `--stability-seeds K` also trains K seeds of the NTM copy run
for `--stability-minutes` each and records whether any produced NaN.

Run: `python -m benchmarks.memory_quality [--tasks copy,associative_recall] [--models ntm,lstm]
[--minutes 60] [--stability-seeds 10|A-B --stability-minutes 3]` (`--tasks ""`: stability alone);
writes (merging model by model and seed by seed, so they can train in separate processes)
benchmarks/results/memory_quality.json and memory_generalisation.png.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

from benchmarks.common import RESULTS, previous_result, write_result

SIZES = {"copy": (10, 20, 30, 40, 50, 60, 80, 100), "associative_recall": (2, 4, 6, 8, 10, 12)}
SIZE_KEYS = {"copy": ("data.min_length", "data.max_length"), "associative_recall": ("data.min_items", "data.max_items")}


def _time_budget(seconds: float):
    import keras

    class TimeBudget(keras.callbacks.Callback):
        """Stop at the end of the first epoch that ends past the budget."""

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.started > seconds:
                self.model.stop_training = True

    return TimeBudget()


def train_and_sweep(task: str, model: str, minutes: float, seed: int, root: str) -> dict:
    from keras_recurrent import pipelines

    started = time.perf_counter()
    run = pipelines.train(task, model=model, seed=seed, run_dir=os.path.join(root, f"{task}-{model}-{seed}"),
                          quiet=True, callbacks=[_time_budget(minutes * 60)],
                          # The budget stops training, not the task's epoch count (the LSTM's 100 epochs take 17 minutes).
                          set=["train.patience=0", "train.epochs=100000"])
    record = {"minutes_budget": minutes, "seconds": round(time.perf_counter() - started, 1), "epochs": run.metrics["epochs_trained"],
              "test": run.metrics["bit_errors_per_sequence"], "by_size": {}}
    low, high = SIZE_KEYS[task]
    for size in SIZES[task]:
        evaluated = pipelines.evaluate(run.path, set=[f"{low}={size}", f"{high}={size}"], quiet=True)
        record["by_size"][str(size)] = evaluated["bit_errors_per_sequence"]
    print(f"{task} {model}: {record}", flush=True)
    return record


def seed_range(text: str) -> list[int]:
    """"10" -> seeds 1..10; "6-10" -> seeds 6..10 (so two processes can share the ten seeds)."""
    low, _, high = text.partition("-")
    return list(range(int(low), int(high) + 1)) if high else list(range(1, int(low) + 1))


def stability(seeds: list[int], minutes: float, root: str) -> list:
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines.callbacks import read_history

    rows = []
    for seed in seeds:
        run = pipelines.train("copy", model="ntm", seed=seed, run_dir=os.path.join(root, f"stability-{seed}"), quiet=True,
                              callbacks=[_time_budget(minutes * 60)], set=["train.patience=0", "train.epochs=100000"])
        history = read_history(os.path.join(run.path, "history.csv"))
        finite = all(math.isfinite(float(v)) for row in history for k, v in row.items() if k != "epoch")
        rows.append({"seed": seed, "minutes": minutes, "epochs": len(history), "finite": finite,
                     "bit_errors_per_sequence": run.metrics["bit_errors_per_sequence"],
                     "at_length_20": run.metrics["bit_errors_by_length"].get("20")})
        print(f"stability seed {seed}: {rows[-1]}", flush=True)
    return rows


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(result["tasks"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for model, record in result["tasks"][task].items():
            sizes = sorted(int(s) for s in record["by_size"])
            ax.plot(sizes, [record["by_size"][str(s)] for s in sizes], marker="o", label=model)
        trained = 20 if task == "copy" else 6
        ax.axvline(trained, color="gray", linestyle=":", label="longest in training")
        ax.set_xlabel("sequence length" if task == "copy" else "items")
        ax.set_ylabel("bit errors per sequence")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "memory_generalisation.png"), dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="copy,associative_recall")
    parser.add_argument("--models", default="ntm,lstm")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stability-seeds", default="0", help="K (seeds 1..K) or A-B")
    parser.add_argument("--stability-minutes", type=float, default=3.0)
    args = parser.parse_args(argv)
    result = {"settings": {"seed": args.seed, "minutes_per_model": args.minutes, "models": args.models.split(","),
                           "command": "recurrent train TASK --model M --seed S (defaults; stopped by the time budget)"},
              "tasks": {}}
    with tempfile.TemporaryDirectory() as root:
        for task in filter(None, args.tasks.split(",")):
            result["tasks"][task] = {m: train_and_sweep(task, m, args.minutes, args.seed, root)
                                     for m in args.models.split(",")}
        if args.stability_seeds != "0":
            result["stability"] = stability(seed_range(args.stability_seeds), args.stability_minutes, root)
    # Models may train in separate processes (one core each): merge with what is there, under a lock.
    with previous_result("memory_quality") as previous:
        for task, models in previous.get("tasks", {}).items():
            result["tasks"][task] = {**models, **result["tasks"].get(task, {})}
        by_seed = {row["seed"]: row for row in previous.get("stability", []) + result.get("stability", [])}
        if by_seed:
            result["stability"] = [by_seed[seed] for seed in sorted(by_seed)]
        write_result("memory_quality", result)
        _plot(result)


if __name__ == "__main__":
    main()

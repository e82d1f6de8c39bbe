"""Language-model quality: Mogrifier LSTM and SRU++ against the LSTM at equal parameter count.

Character-level model of tiny Shakespeare (../shared/data/tinyshakespeare; the embedded text when it
is absent) through the real pipeline (`pipelines.train("language_model", ...)`). The LSTM has
`--units` units; the Mogrifier's and SRU++'s widths are solved so that every model has the LSTM's
parameter count (within 2%). Targets (issue 3):
- at equal parameter count and equal training steps, the Mogrifier reaches a lower validation bpc
  than the LSTM;
- SRU++ reaches the LSTM's final validation bpc in less wall-clock time (SRU++ may train for more
  epochs; what counts is the time at which its validation bpc first goes below the LSTM's).
Validation curves against steps and against seconds: benchmarks/results/language_model_curves.png.

Run: `python -m benchmarks.language_model_quality [--epochs 8] [--characters 400000]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import RESULTS, SHARED_DATA, write_result  # noqa: E402


def solve_units(kind: str, target: int, info: dict, base) -> int:
    """Smallest width whose model has at least `target` parameters (bisection on units)."""
    from dataclasses import replace

    from keras_recurrent.tasks import get_task

    task = get_task("language_model")

    def count(units):
        return task.models.build(kind, replace(base, units=units), info).count_params()

    low, high = 8, 4096
    while low < high:
        middle = (low + high) // 2
        if count(middle) < target:
            low = middle + 1
        else:
            high = middle
    return low


def main(argv=None) -> None:
    import keras

    from keras_recurrent import pipelines
    import keras_recurrent.pipelines.callbacks  # noqa: F401  (loads the submodule)
    import keras_recurrent.pipelines.verbs  # noqa: F401  (loads the submodule)
    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.language_model import LanguageModelModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--characters", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    text = os.path.normpath(os.path.join(SHARED_DATA, "tinyshakespeare", "input.txt"))
    spec = text if os.path.isfile(text) else None
    common = [f"data.max_characters={args.characters}", "data.sequence_length=128", "model.dropout=0.0"]

    task = get_task("language_model")
    data_config = task.DataConfig(max_characters=args.characters)
    info = task.load(spec, data_config, args.seed).info
    base = LanguageModelModel(dropout=0.0)
    lstm_params = task.models.build("lstm", LanguageModelModel(units=args.units), info).count_params()
    widths = {"lstm": args.units,
              "mogrifier": solve_units("mogrifier", lstm_params, info, base),
              "srupp": solve_units("srupp", lstm_params, info, base)}
    budgets = {"lstm": args.epochs, "mogrifier": args.epochs, "srupp": 2 * args.epochs}

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.seconds = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    runs = {}
    with tempfile.TemporaryDirectory() as root:
        for kind, units in widths.items():
            clock = Clock()
            run = pipelines.train("language_model", model=kind, data=spec, epochs=budgets[kind], seed=args.seed,
                                  root=root, quiet=True, callbacks=[clock], set=common + [f"model.units={units}"])
            history = pipelines.callbacks.read_history(os.path.join(run.path, "history.csv"))
            model = pipelines.verbs.load_run(run.path)[3]
            runs[kind] = {
                "units": units, "parameters": int(model.count_params()), "epochs": budgets[kind],
                "val_bpc": [round(r["val_bpc"], 4) for r in history],
                "seconds": [round(s, 1) for s in clock.seconds], "test_bpc": round(run.metrics["test_bpc"], 4),
                "baselines": run.metrics["baselines"], "sample": run.metrics["sample"],
            }
            print(f"{kind}: units {units}, params {runs[kind]['parameters']}, val bpc {runs[kind]['val_bpc']}, "
                  f"seconds {runs[kind]['seconds']}", flush=True)

    lstm_final = runs["lstm"]["val_bpc"][-1]
    mog_same_steps = runs["mogrifier"]["val_bpc"][args.epochs - 1]
    srupp_time = next((t for b, t in zip(runs["srupp"]["val_bpc"], runs["srupp"]["seconds"]) if b <= lstm_final), None)
    lstm_time = runs["lstm"]["seconds"][-1]
    plot(runs, os.path.join(RESULTS, "language_model_curves.png"), args)
    write_result("language_model_quality", {
        "settings": {"seed": args.seed, "data": spec or "embedded", "characters": args.characters,
                     "sequence_length": 128, "batch_size": 32, "epochs": args.epochs, "lstm_units": args.units},
        "runs": runs,
        "targets": {
            "lstm_final_val_bpc": lstm_final,
            "mogrifier_val_bpc_at_equal_steps": mog_same_steps,
            "mogrifier_lower_than_lstm": mog_same_steps < lstm_final,
            "lstm_seconds": lstm_time,
            "srupp_seconds_to_reach_lstm_bpc": srupp_time,
            "srupp_faster_to_lstm_bpc": srupp_time is not None and srupp_time < lstm_time,
        },
        "pictures": ["language_model_curves.png"],
    })


def plot(runs: dict, path: str, args) -> None:
    import matplotlib.pyplot as plt

    from keras_recurrent.pipelines.rundir import save_figure

    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for kind, run in runs.items():
        label = f"{kind} ({run['units']} units, {run['parameters'] / 1e3:.0f}k params)"
        by_epoch.plot(range(1, len(run["val_bpc"]) + 1), run["val_bpc"], marker="o", label=label)
        by_time.plot(run["seconds"], run["val_bpc"], marker="o", label=label)
    by_epoch.set_xlabel("epoch (equal steps per epoch for every model)")
    by_time.set_xlabel("wall-clock seconds (2 CPU cores)")
    for ax in (by_epoch, by_time):
        ax.set_ylabel("validation bits per character")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Character-level tiny Shakespeare ({args.characters} characters), equal parameter count")
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()

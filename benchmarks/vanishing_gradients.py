"""Why gates matter: how far back the gradient reaches, and the adding problem as the distance grows.

1. Gradient reach: for simple_rnn, lstm, gru, mogrifier, sru and srupp (64 units), the mean norm of
   d loss / d x_t for every input step t of adding-problem sequences, at initialisation (length 200,
   three seeds) and after training on the longest sweep length. At initialisation every model's
   gradient fades with distance (gates start half closed); training opens the gates of the gated models,
   not the SimpleRNN's. Side by side: benchmarks/results/gradient_reach.png.
2. Length sweep: each model trained on the adding task (tasks/adding.py) through the real pipeline at
   several lengths with the same budget; test MSE against the always-1.0 baseline (1/6):
   benchmarks/results/adding_length_sweep.png.

Run: `python -m benchmarks.vanishing_gradients [--lengths 10,50,100] [--epochs 20]`; writes
benchmarks/results/vanishing_gradients.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import RESULTS, write_result  # noqa: E402

MODELS = ("simple_rnn", "lstm", "gru", "mogrifier", "sru", "srupp")


def gradient_reach_at_init(length: int, seeds=(0, 1, 2)) -> dict:
    import keras

    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.adding import AddingModel, generate, gradient_reach

    task = get_task("adding")
    reach = {}
    for name in MODELS:
        curves = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = task.models.build(name, AddingModel(units=64), {"length": length})
            inputs, targets = generate(128, length, seed)
            curves.append(gradient_reach(model, inputs, targets))
        reach[name] = np.mean(curves, axis=0)
    return reach


def plot_reach(rows: dict, path: str) -> None:
    """rows: {row title: {model: curve}}; side-by-side panels sharing one log scale per row.

    Each curve is divided by its value at the last step, so a panel reads as the fraction of the
    training signal that reaches step t (values below 1e-30 are float32 underflow: nothing reaches).
    """
    import matplotlib.pyplot as plt

    from keras_recurrent.pipelines.rundir import save_figure

    fig, axes = plt.subplots(len(rows), len(MODELS), figsize=(3.0 * len(MODELS), 3.0 * len(rows)), squeeze=False,
                             sharey="row")
    for axes_row, (title, reach) in zip(axes, rows.items()):
        for ax, name in zip(axes_row, MODELS):
            curve = np.asarray(reach[name], dtype="float64")
            relative = np.maximum(curve / max(curve[-1], 1e-30), 1e-30)
            ax.semilogy(np.arange(1, len(curve) + 1), relative)
            ax.set_title(name)
            ax.set_xlabel("input step")
            ax.grid(alpha=0.3, which="both")
        axes_row[0].set_ylabel(f"gradient at step t / at last step\n{title}")
    fig.suptitle("How far back the gradient reaches (adding problem, 64 units)")
    fig.tight_layout()
    save_figure(fig, path)


def length_sweep(lengths, epochs: int, examples: int, learning_rate: float) -> tuple[dict, dict]:
    """Test MSE per model and length, and the trained models' gradient reach at the longest length."""
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines.verbs import load_run
    from keras_recurrent.tasks.adding import generate, gradient_reach

    table = {name: {} for name in MODELS}
    trained_reach = {}
    with tempfile.TemporaryDirectory() as root:
        for length in lengths:
            for name in MODELS:
                run = pipelines.train("adding", model=name, epochs=epochs, seed=0, root=root, quiet=True,
                                      set=[f"data.length={length}", f"data.num_examples={examples}",
                                           f"train.learning_rate={learning_rate}"])
                table[name][length] = round(run.metrics["test_mse"], 5)
                print(f"  length {length:4d} {name:10s} test MSE {run.metrics['test_mse']:.4f}", flush=True)
                if length == max(lengths):
                    model = load_run(run.path)[3]
                    inputs, targets = generate(128, length, seed=99)
                    trained_reach[name] = gradient_reach(model, inputs, targets)
    return table, trained_reach


def plot_sweep(table: dict, path: str) -> None:
    import matplotlib.pyplot as plt

    from keras_recurrent.pipelines.rundir import save_figure
    from keras_recurrent.tasks.adding import BASELINE_MSE

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, row in table.items():
        lengths = sorted(row)
        ax.plot(lengths, [row[n] for n in lengths], marker="o", label=name)
    ax.axhline(BASELINE_MSE, color="grey", linestyle="--", label="always 1.0 (1/6)")
    ax.set_xlabel("sequence length")
    ax.set_ylabel("test MSE")
    ax.set_yscale("log")
    ax.set_title("Adding problem: same training budget, growing distance")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="10,50,100")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--reach-length", type=int, default=200)
    args = parser.parse_args(argv)
    reach = gradient_reach_at_init(args.reach_length)
    lengths = [int(n) for n in args.lengths.split(",")]
    table, trained = length_sweep(lengths, args.epochs, args.examples, args.learning_rate)
    plot_reach({f"at initialisation, length {args.reach_length}": reach,
                f"after training, length {max(lengths)}": trained}, os.path.join(RESULTS, "gradient_reach.png"))
    plot_sweep(table, os.path.join(RESULTS, "adding_length_sweep.png"))

    def fade(curves):  # gradient at the first step relative to the last, in orders of magnitude
        return {name: round(float(np.log10(max(c[0], 1e-30) / c[-1])), 2) for name, c in curves.items()}

    write_result("vanishing_gradients", {
        "settings": {"seed": 0, "models": MODELS, "units": 64, "reach_length": args.reach_length,
                     "lengths": lengths, "epochs": args.epochs, "examples": args.examples,
                     "learning_rate": args.learning_rate},
        "gradient_reach_log10_first_over_last_at_init": fade(reach),
        "gradient_reach_log10_first_over_last_trained": fade(trained),
        "gradient_reach_curves_at_init": {name: [float(v) for v in curve] for name, curve in reach.items()},
        "adding_test_mse": table,
        "baseline_mse_always_one": 1 / 6,
        "pictures": ["gradient_reach.png", "adding_length_sweep.png"],
    })


if __name__ == "__main__":
    main()

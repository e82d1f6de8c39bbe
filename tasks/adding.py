"""The adding problem: a long-range dependency that shows why recurrent networks need gates.

Each input step carries two numbers: a value drawn uniformly from [0, 1] and a marker, 1 at exactly two
steps (one in the first half of the sequence, one in the second) and 0 elsewhere. The target is the sum
of the two marked values (Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997, experiment 4; the
form used by Le, Jaitly & Hinton, 2015). Always answering 1.0 scores a mean squared error of 1/6
(the variance of a sum of two uniforms), so a model that does not carry the first marked value across
half the sequence cannot beat ~0.167. A plain SimpleRNN's gradient with respect to early steps shrinks
geometrically with distance, so it fails as `data.length` grows; gated layers keep it alive.

Plots: learning curves, and the norm of the loss's gradient with respect to each input step (how far
back the training signal reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.pictures import counting

BASELINE_MSE = 1.0 / 6.0


@dataclass
class AddingData:
    """Section `data` of the adding task."""

    length: int = hparam(50, help="steps per sequence (the distance the first marked value must travel)", min=4)
    num_examples: int = hparam(10000, help="training sequences (validation and test get a tenth each)", min=10)


@dataclass
class AddingModel:
    """Section `model` of the adding task."""

    units: int = hparam(64, help="recurrent units per layer", min=1)
    num_layers: int = hparam(1, help="stacked recurrent layers", min=1)


def generate(num: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (num, length, 2), targets (num, 1)); one marker in each half of every sequence."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(num, length))
    markers = np.zeros((num, length))
    half = length // 2
    first = rng.integers(0, half, size=num)
    second = rng.integers(half, length, size=num)
    rows = np.arange(num)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1).astype("float32"), targets[:, None].astype("float32")


def build_regressor(kind: str):
    def build(config: AddingModel, info: dict):
        import keras

        from keras_recurrent.tasks.encoders import stacked_encoder

        sequence = keras.Input(shape=(info["length"], 2), name="values_and_markers")
        x = stacked_encoder(kind, sequence, config.units, config.num_layers, dropout=0.0)
        total = keras.layers.Dense(1, name="sum")(x)
        return keras.Model(sequence, total, name=f"adding_{kind}")

    build.__doc__ = f"{kind} encoder, linear read-out of the sum."
    return build


def gradient_reach(model, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over examples of || d loss / d input_t ||, for every step t: how far back the signal reaches."""
    grads = _input_gradient(model, inputs.astype("float32"), targets.astype("float32"))
    return np.linalg.norm(grads, axis=-1).mean(axis=0)


def _input_gradient(model, inputs, targets) -> np.ndarray:
    """d mean-squared-error / d inputs, with the active backend's own differentiation."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(x):
            return keras.ops.mean(keras.ops.square(model(x, training=False) - targets))

        return np.asarray(jax.grad(loss)(inputs))
    if backend == "torch":
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        keras.ops.mean(keras.ops.square(model(x, training=False) - torch.tensor(targets))).backward()
        return x.grad.numpy()
    import tensorflow as tf

    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.square(model(x, training=False) - targets))
    return tape.gradient(loss, x).numpy()


class AddingTask(Task):
    name = "adding"
    description = "The adding problem: sum two marked values across a long sequence (why gates matter)"
    data_sources = ("(none): generated sequences; set data.length for the distance to bridge",)
    DataConfig = AddingData
    ModelConfig = AddingModel
    models = ModelRegistry({kind: build_regressor(kind) for kind in ("simple_rnn", "lstm", "gru", "mogrifier", "sru", "srupp", "ntm")},
                           default="lstm", train={"epochs": 10, "batch_size": 64, "learning_rate": 2e-3})
    headline = "test_mse"
    tunable = {
        "model.units": [32, 64, 128],
        "train.learning_rate": (3e-4, 3e-3, "log"),
        "train.batch_size": [32, 64, 128],
    }
    quick = {"data.num_examples": 256, "data.length": 12, "model.units": 8, "train.epochs": 1}

    def load(self, spec, config: AddingData, seed: int, run_info=None) -> TaskData:
        import tensorflow as tf

        if spec:
            raise UserError(f"--data {spec}: the adding task generates its own data; set data.length instead")
        held_out = max(1, config.num_examples // 10)
        splits = [generate(n, config.length, seed + i) for i, n in enumerate((config.num_examples, held_out, held_out))]
        datasets = [tf.data.Dataset.from_tensor_slices(split) for split in splits]
        info = {"length": config.length, "baseline_mse": BASELINE_MSE}
        return TaskData(*datasets, info=info, extras={"test": splits[2]})

    def compile(self, info):
        return Compile("mse", ["mae"])

    def evaluate(self, model, data: TaskData, config) -> dict:
        inputs, targets = data.extras["test"]
        predicted = model.predict(inputs, batch_size=256, verbose=0)
        mse = float(np.mean((predicted - targets) ** 2))
        return {
            "test_mse": mse,
            "relative_to_baseline": mse / BASELINE_MSE,
            "solved": mse < 0.1 * BASELINE_MSE,
            "baselines": {"always_one_mse": float(np.mean((1.0 - targets) ** 2))},
        }

    def plots(self, model, data: TaskData, config) -> dict:
        import matplotlib.pyplot as plt

        inputs, targets = data.extras["test"]
        reach = gradient_reach(model, inputs[:256], targets[:256])
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.semilogy(np.arange(1, len(reach) + 1), reach)
        ax.set_xlabel("input step")
        counting(ax)
        ax.set_ylabel("|| d loss / d x_t ||")
        ax.set_title(f"adding / {config.model_name}: how far back the gradient reaches")
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        return {"gradient_reach": fig}

    def predict_examples(self, info):
        length = info["length"]
        values = ",".join(f"{(i % 10) / 10:.1f}" for i in range(length))
        return [f"{values};0,{length - 1}", f"{values};1,{length // 2}"]

    def predict(self, model, inputs, info, config=None) -> list[dict]:
        """Each input is 'v1,v2,...;i,j': the values and the two marked steps (0-based)."""
        rows = []
        for text in inputs:
            try:
                values_text, marks_text = text.split(";")
                values = [float(v) for v in values_text.split(",")]
                marks = [int(i) for i in marks_text.split(",")]
            except ValueError:
                raise UserError(f"predict input {text!r}: expected 'v1,v2,...;i,j' (values; two marked steps)") from None
            if len(values) != info["length"] or len(marks) != 2 or not all(0 <= i < len(values) for i in marks):
                raise UserError(f"predict input {text!r}: need {info['length']} values and two steps in range")
            x = np.zeros((1, info["length"], 2), "float32")
            x[0, :, 0] = values
            x[0, marks, 1] = 1.0
            rows.append({"sum": round(float(model.predict(x, verbose=0)[0, 0]), 4),
                         "true_sum": round(values[marks[0]] + values[marks[1]], 4)})
        return rows


__all__ = ["AddingTask", "generate", "gradient_reach"]

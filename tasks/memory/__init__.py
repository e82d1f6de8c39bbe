"""The Neural Turing Machine's algorithmic tasks: `copy` and `associative_recall` (Graves, Wayne &
Danihelka 2014, sections 4.1 and 4.3), through the same pipeline as every task.

sequences generated from the seed (`sequences.py`) -> a recurrent model writes the answer during the
blank steps that follow its input (NTM by default, LSTM as the paper's baseline, any layer of the shared
registry) -> bit errors per sequence by length, beside chance -> input / target / output pictures and,
for the NTM, its read and write weightings over time, as in the paper's figures.

Lengths beyond training measure what the paper is about, generalisation: `recurrent evaluate RUN --set
data.min_length=40 --set data.max_length=40`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam
from keras_recurrent.tasks.memory import sequences as seq


@dataclass
class CopyData:
    """Section `data` of the copy task."""

    bits: int = hparam(8, help="bits of each vector", min=1, max=64)
    min_length: int = hparam(1, help="shortest sequence to copy", min=1)
    max_length: int = hparam(20, help="longest sequence to copy", min=1, max=1000)
    num_examples: int = hparam(20000, help="training sequences", min=1)
    held_out: int = hparam(500, help="validation sequences, and test sequences", min=1)


@dataclass
class RecallData:
    """Section `data` of the associative recall task."""

    bits: int = hparam(6, help="bits of each vector", min=1, max=64)
    item_length: int = hparam(3, help="vectors an item", min=1)
    min_items: int = hparam(2, help="fewest items a sequence", min=2)
    max_items: int = hparam(6, help="most items a sequence", min=2, max=200)
    num_examples: int = hparam(20000, help="training sequences", min=1)
    held_out: int = hparam(500, help="validation sequences, and test sequences", min=1)


@dataclass
class MemoryModel:
    """Section `model` of the copy and associative recall tasks."""

    units: int = hparam(100, help="controller width (ntm) or recurrent units (other models)", min=1)
    num_layers: int = hparam(1, help="stacked recurrent layers (not ntm)", min=1)
    memory_size: int = hparam(128, help="ntm: memory rows (N)", min=3)
    memory_width: int = hparam(20, help="ntm: width of a memory row (W)", min=1)
    read_heads: int = hparam(1, help="ntm: read heads", min=1)
    write_heads: int = hparam(1, help="ntm: write heads", min=1)
    controller: str = hparam("lstm", help="ntm: controller", choices=("lstm", "dense"))
    shift_range: int = hparam(1, help="ntm: largest shift of a head", min=0)


def build_memory_model(kind: str):
    def build(config: MemoryModel, info: dict):
        from keras_recurrent.layers import NTM
        from keras_recurrent.tasks.encoders import stacked_encoder

        # No Masking layer: the blank steps the answer is written in are all-zero inputs too. Padding
        # comes after the answer, so a forward recurrence never carries it into a scored output.
        inputs = keras.Input(shape=(None, info["bits"] + 2), name="bits_and_delimiters")
        x = inputs
        if kind == "ntm":
            if 2 * config.shift_range + 1 > config.memory_size:
                raise UserError(f"model.shift_range={config.shift_range} needs model.memory_size >= "
                                f"{2 * config.shift_range + 1}")
            x = NTM(config.units, memory_size=config.memory_size, memory_width=config.memory_width,
                    read_heads=config.read_heads, write_heads=config.write_heads, controller_units=config.units,
                    controller=config.controller, shift_range=config.shift_range, return_sequences=True,
                    name="ntm")(x)
        else:
            x = stacked_encoder(kind, x, config.units, config.num_layers, 0.0, return_sequences=True)
        outputs = keras.layers.Dense(info["bits"], activation="sigmoid", name="bits")(x)
        return keras.Model(inputs, outputs, name=f"{info['problem']}_{kind}")

    build.__doc__ = f"{kind} over the bit sequence, a sigmoid per output bit."
    return build


@keras.saving.register_keras_serializable(package="keras_recurrent")
class BitErrors(keras.metrics.Metric):
    """Wrong bits per sequence in the scored (weighted) steps, outputs thresholded at 0.5: the learning
    curve the NTM paper draws."""

    def __init__(self, name="bit_errors", **kwargs):
        super().__init__(name=name, **kwargs)
        self.errors = self.add_variable(shape=(), initializer="zeros", name="errors")
        self.sequences = self.add_variable(shape=(), initializer="zeros", name="sequences")

    def update_state(self, y_true, y_pred, sample_weight=None):
        from keras import ops

        wrong = ops.cast(ops.not_equal(y_pred > 0.5, y_true > 0.5), "float32")
        if sample_weight is not None:
            wrong = wrong * ops.expand_dims(ops.cast(sample_weight, "float32"), -1)
        self.errors.assign(self.errors + ops.sum(wrong))
        self.sequences.assign(self.sequences + ops.cast(ops.shape(y_true)[0], "float32"))

    def result(self):
        from keras import ops

        return self.errors / ops.maximum(self.sequences, 1.0)


class BitSequenceTask(Task):
    """What copy and associative recall share: a bit-vector input, a sigmoid output, bit errors."""

    ModelConfig = MemoryModel
    # Forward recurrences only: a backward pass would read the end padding into the answer.
    # The NTM's step is many small ops: XLA fuses them, 2x the sequences a second.
    models = ModelRegistry({kind: build_memory_model(kind) for kind in ("ntm", "lstm", "gru", "simple_rnn", "mogrifier", "sru")},
                           default="ntm", train={"epochs": 100, "batch_size": 32, "learning_rate": 1e-3, "clipnorm": 10.0,
                                                 "patience": 10, "xla": True})
    headline = "bit_errors_per_sequence"
    tunable = {"model.units": [64, 100, 200], "train.learning_rate": (3e-4, 3e-3, "log")}

    # -- what a subclass defines ------------------------------------------------------------------
    def example(self, rng, config):
        raise NotImplementedError

    def size_of(self, example_inputs, config) -> int:
        """The length or item count of an example (what the plot by size groups by)."""
        raise NotImplementedError

    def longest(self, config) -> int:
        raise NotImplementedError

    size_name = ""
    size_keys = ("", "")  # the data fields of the smallest and largest size (length, items)
    # Quick runs skip XLA: compiling its steps takes longer than a quick run trains.
    quick = {"data.num_examples": 128, "data.held_out": 16, "model.units": 8, "model.memory_size": 8,
             "model.memory_width": 4, "train.epochs": 1, "train.xla": False}

    # -- data -------------------------------------------------------------------------------------
    def check(self, config) -> None:
        low, high = self.size_keys
        if getattr(config, low) > getattr(config, high):
            raise UserError(f"data.{low}={getattr(config, low)} exceeds data.{high}={getattr(config, high)}")

    def draw_size(self, rng, config) -> int:
        low, high = self.size_keys
        return int(rng.integers(getattr(config, low), getattr(config, high) + 1))

    def generate(self, count: int, config, seed: int):
        rng = np.random.default_rng(seed)
        examples = [self.example(rng, config) for _ in range(count)]
        sizes = np.array([self.size_of(x, config) for x, _, _ in examples], int)
        return (*seq.pad(examples, self.longest(config)), sizes) if count else (
            np.zeros((0, self.longest(config), config.bits + 2), np.float32),
            np.zeros((0, self.longest(config), config.bits), np.float32),
            np.zeros((0, self.longest(config)), np.float32), np.zeros(0, int))

    def load(self, spec, config, seed: int, run_info=None) -> TaskData:
        # Evaluating a run (at other lengths, or for export) needs its test split alone.
        wanted = ("test",) if run_info is not None else ("train", "validation", "test")
        import tensorflow as tf

        if spec:
            raise UserError(f"--data {spec}: the {self.name} task generates its own sequences; set data.* instead")
        self.check(config)
        info = {"problem": self.name, "bits": config.bits, "steps": self.longest(config),
                "item_length": getattr(config, "item_length", None)}
        splits, extras = [], {}
        for name, count, offset in (("train", config.num_examples, 0), ("validation", config.held_out, 1),
                                    ("test", config.held_out, 2)):
            inputs, targets, weights, sizes = self.generate(count if name in wanted else 0, config, seed * 3 + offset)
            splits.append(tf.data.Dataset.from_tensor_slices((inputs, targets, weights)))
            if name == "test":
                extras = {"test": (inputs, targets, weights), "sizes": sizes}
        return TaskData(*splits, info=info, extras=extras)

    def compatible_info(self, run_info, new_info):
        if run_info["bits"] != new_info["bits"]:
            return f"data.bits={new_info['bits']}: the model reads and writes {run_info['bits']}-bit vectors"
        return None

    def compile(self, info):
        import keras

        # Bit errors are counted on the answer's steps only: the weights mark them.
        return Compile(keras.losses.BinaryCrossentropy(), weighted_metrics=[BitErrors()])

    # -- results ----------------------------------------------------------------------------------
    def evaluate(self, model, data: TaskData, config) -> dict:
        inputs, targets, weights = data.extras["test"]
        outputs = model.predict(inputs, batch_size=64, verbose=0)
        errors = seq.bit_errors(outputs, targets, weights)
        scored_bits = weights.sum(1) * targets.shape[-1]
        sizes = data.extras["sizes"]
        metrics = {
            "bit_errors_per_sequence": float(errors.mean()),
            "bit_error_rate": float(errors.sum() / scored_bits.sum()),
            "perfect_sequences": float(np.mean(errors == 0)),
            f"bit_errors_by_{self.size_name}": {str(n): float(errors[sizes == n].mean()) for n in np.unique(sizes)},
            "baselines": {"chance": {"bit_errors_per_sequence": float(scored_bits.mean() / 2.0)}},
        }
        data.extras["errors"] = errors
        return metrics

    def plots(self, model, data: TaskData, config) -> dict:
        from keras_recurrent.tasks.memory import plots

        inputs, targets, weights = data.extras["test"]
        sizes = data.extras["sizes"]
        i = int(np.argmax(sizes))
        steps = int((np.abs(inputs[i]).sum(-1) > 0).nonzero()[0].max()) + 1 + int(weights[i].sum())
        steps = min(steps, inputs.shape[1])
        example = inputs[i:i + 1, :steps]
        output = model.predict(example, verbose=0)[0]
        trace = None
        ntm = next((layer for layer in model.layers if layer.__class__.__name__ == "NTM"), None)
        if ntm is not None:
            trace = ntm.trace(example)
        figures = {"example": plots.example(example[0], targets[i, :steps], output, weights[i, :steps], trace, self.name)}
        errors = data.extras.get("errors")
        if errors is not None and len(np.unique(sizes)) > 1:
            figures["errors_by_size"] = plots.errors_by_size(sizes, errors, self.size_name, self.name)
        return figures

    def export_inputs(self, model, info):
        import tensorflow as tf

        # The longest training sequence; the SavedModel and TFLite models take that many steps (pad at the end).
        return [tf.TensorSpec((info["steps"], info["bits"] + 2), tf.float32, name="bits_and_delimiters")]

    # -- predict ----------------------------------------------------------------------------------
    def parse_vectors(self, text: str, bits: int, where: str) -> np.ndarray:
        groups = text.split()
        if not groups:
            raise UserError(f"{where}: no bit vectors")
        for g in groups:
            if len(g) != bits or set(g) - {"0", "1"}:
                raise UserError(f"{where}: {g!r} is not a vector of {bits} bits (0s and 1s)")
        return np.array([[float(b) for b in g] for g in groups], np.float32)

    def format_prediction(self, row):
        return "\t".join(f"{k}={v}" for k, v in row.items())


def _bits_text(vectors: np.ndarray) -> str:
    return " ".join("".join("1" if b > 0.5 else "0" for b in v) for v in vectors)


class CopyTask(BitSequenceTask):
    name = "copy"
    description = "NTM copy task: read a sequence of bit vectors, write it back (bit errors by length)"
    data_sources = ("(none): generated bit vectors; data.min_length / data.max_length set the lengths",)
    DataConfig = CopyData
    size_name = "length"
    size_keys = ("min_length", "max_length")
    quick = {**BitSequenceTask.quick, "data.max_length": 4}

    def example(self, rng, config):
        return seq.copy_example(rng, self.draw_size(rng, config), config.bits)

    def size_of(self, inputs, config):
        return int(inputs[:, config.bits].argmax())  # the delimiter's step is the length

    def longest(self, config):
        return 2 * config.max_length + 1

    def predict_examples(self, info):
        patterns = ("10110011", "01010101", "11110000")
        return [" ".join((p * 8)[: info["bits"]] for p in patterns), (patterns[0] * 8)[: info["bits"]]]

    def predict(self, model, inputs, info, config=None):
        """Each input is a sequence of bit vectors ('10110011 01010101 ...'); returns the model's copy."""
        rows = []
        for number, text in enumerate(inputs, start=1):
            vectors = self.parse_vectors(text, info["bits"], f"predict input {number}")
            x, _, w = seq.copy_example(np.random.default_rng(0), len(vectors), info["bits"])
            x[: len(vectors), : info["bits"]] = vectors
            out = model.predict(x[None], verbose=0)[0][w > 0]
            rows.append({"copy": _bits_text(out), "errors": int(((out > 0.5) != (vectors > 0.5)).sum())})
        return rows


class AssociativeRecallTask(BitSequenceTask):
    name = "associative_recall"
    description = "NTM associative recall: given a query item, write the item that followed it (bit errors)"
    data_sources = ("(none): generated items of bit vectors; data.min_items / data.max_items set the count",)
    DataConfig = RecallData
    size_name = "items"
    size_keys = ("min_items", "max_items")
    quick = {**BitSequenceTask.quick, "data.max_items": 3}

    def example(self, rng, config):
        return seq.recall_example(rng, self.draw_size(rng, config), config.bits, config.item_length)

    def size_of(self, inputs, config):
        return int(inputs[:, config.bits].sum())  # one item delimiter an item

    def longest(self, config):
        return config.max_items * (config.item_length + 1) + 2 + 2 * config.item_length

    def predict_examples(self, info):
        bits = info["bits"]
        a, b, c = ("1" * bits), ("0" * (bits - 1) + "1"), ("1" + "0" * (bits - 1))
        length = info["item_length"]

        def item(vector):
            return " ".join([vector] * length)

        return [f"{item(a)} | {item(b)} | {item(c)} ? {item(b)}"]

    def predict(self, model, inputs, info, config=None):
        """Each input is items of bit vectors separated by '|', then '?' and the query item
        ('101 011 | 110 000 ? 101 011'); returns the item the model recalls."""
        rows = []
        for number, text in enumerate(inputs, start=1):
            where = f"predict input {number}"
            if text.count("?") != 1:
                raise UserError(f"{where}: expected items separated by '|', then '?' and the query item")
            items_text, query_text = text.split("?")
            items = [self.parse_vectors(part, info["bits"], where) for part in items_text.split("|")]
            query = self.parse_vectors(query_text, info["bits"], where)
            length = len(items[0])
            if len(items) < 2 or any(len(item) != length for item in items) or len(query) != length:
                raise UserError(f"{where}: need at least 2 items, all (and the query) of the same number of vectors")
            x, _, w = seq.recall_example(np.random.default_rng(0), len(items), info["bits"], length)
            block = length + 1
            for i, item in enumerate(items):
                x[i * block + 1:(i + 1) * block, : info["bits"]] = item
            start = len(items) * block
            x[start + 1:start + 1 + length, : info["bits"]] = query
            out = model.predict(x[None], verbose=0)[0][w > 0]
            rows.append({"recalled": _bits_text(out)})
        return rows


__all__ = ["AssociativeRecallTask", "CopyTask"]

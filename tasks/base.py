"""The contract every task fulfils, so that `pipelines/` never asks which task it holds.

A task is a subclass of `Task` living in its own module under `tasks/`. Twenty members, in four groups:

What it is and which settings it has
- `name`, `description`, `data_sources` (one line per accepted `--data` form);
- `DataConfig`, `ModelConfig`: typed hyperparameter sections (dataclasses of `hparam` fields: one source
  of truth for validation, `--set`, `recurrent tasks` and sweeps; a field with `at_use=True` changes how a
  trained model is used, not its weights, so `evaluate --set` accepts it);
- `models`: a `ModelRegistry`, `name -> builder(model_config, data_info) -> keras.Model` (uncompiled), with
  the default model and the training defaults (`TrainConfig` fields) of the task's models, and those of a
  model trained differently from the rest (bAbI's LSTM baseline keeps Adam while its memory network uses SGD);
- `quick`: overrides for `--quick` (tiny data, few epochs) so a smoke run takes seconds;
- `tunable`: the default search space of `recurrent tune`, `{"section.field": choices or range}`: a list
  is a choice, `(low, high)` a uniform range, `(low, high, "log")` a log-uniform one;
- `headline`: the metric named first on the summary line and read from each baseline beside it.

Data
- `load(spec, data_config, seed, run_info=None) -> TaskData`: element-wise (unbatched) train / validation /
  test `tf.data.Dataset`s plus `info`, a JSON-able dict of what the model and inference need to know about
  the data (vocabulary, scaler, image size), saved with the run. With `run_info` (the info of a trained
  run) the data is read for evaluation through the run's preprocessing, and a task whose training split is
  costly to make (solved instances) may leave it empty;
- `compatible_info(run_info, new_info)`: None if a model trained on the one can read the other, else why.

Training
- `compile(info) -> Compile`: the loss, metrics and sample-weighted metrics (the optimizer is the
  pipeline's business);
- `schedule(config) -> Schedule`: the task's own training schedule: Keras callbacks (functions of the
  epoch, so a resumed run repeats them), the warm-up epochs early stopping must not compare, and a
  self-supervised `pretrain(model, data, config)` run once before the first epoch.

Results, prediction, export
- `evaluate(model, data, config) -> dict`: JSON-able metrics, baselines included;
- `plots(model, data, config) -> {name: Figure or frames}`: the pictures people look at; a matplotlib
  Figure is saved as `plots/<name>.png`, a (time, rows, columns, channels) array in [0, 1] as
  `plots/<name>.gif`; the pipeline adds the learning curves every task shares;
- `predict(model, inputs, info, config) -> list[dict]`: raw user inputs (sentences, file paths) to JSON-able
  rows, in input order; a file to write for an input is a `files.OutputFile`, named by the pipeline;
- `predict_examples(info)`: a few inputs `predict` accepts (help text and tests);
- `format_prediction(row)`: a row as one line of text for the terminal;
- `export_inputs(model, info)`: the model's inputs as `tf.TensorSpec`s with every dimension static;
- `endpoints(model, info)`: what export writes beside the model's `serve` signature: an `Endpoint` (a
  further signature doing in the graph what `predict` does in Python, or `serve_text`, raw strings in,
  with its Python reference) or a `layers.streaming.StepModel` (one step and the state in, the output and
  the new state out); export checks each the same way (`pipelines/exporting.py`).

The required hooks (`load`, `compile`, `evaluate`, `predict`, `predict_examples`) are abstract.

User mistakes (a bad data spec, a missing column, a wrong shape, a bad value) raise `UserError`
where they are found, with a message naming the problem; the command line prints it as one line.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar


class UserError(Exception):
    """A mistake in what the user asked for; its message is one line that names the problem."""


def warn(message: str) -> None:
    """A counted warning: the data is still usable, the user should know what was left out or changed."""
    print(f"recurrent: warning: {message}", file=sys.stderr)


def progress(message: str, done: bool = False) -> None:
    """A progress line on stderr: rewritten in place on a terminal; in a log (not a terminal) only the last,
    so no carriage returns are written into files."""
    if sys.stderr.isatty():
        print(f"\r{message}", end="\n" if done else "", file=sys.stderr, flush=True)
    elif done:
        print(message, file=sys.stderr, flush=True)


def hparam(default, *, help: str = "", min=None, max=None, choices=None, exclusive_min=False, at_use=False):
    """A dataclass field carrying the metadata `validate_section` checks and `recurrent tasks` shows.

    `help` may name the section's other settings as `{name}`: `recurrent tasks` shows their values (a
    learning rate's help names the task's optimizer). `at_use`: the setting changes how a trained model is used (a decoder's beam width), not what it
    learned, so `recurrent evaluate RUN --set` may change it after training.
    """
    return field(
        default=default,
        metadata={
            "help": help,
            "min": min,
            "max": max,
            "choices": tuple(choices) if choices else None,
            "exclusive_min": exclusive_min,
            "at_use": at_use,
        },
    )


def validate_section(section_name: str, obj) -> None:
    """Check every field of a hyperparameter dataclass against its declared type and range."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{section_name}.{f.name}"
        meta = f.metadata or {}
        lo, hi, choices = meta.get("min"), meta.get("max"), meta.get("choices")
        if value is None:
            continue
        if choices and value not in choices:
            raise UserError(f"{key}={value!r}: expected one of {', '.join(map(str, choices))}")
        if lo is not None:
            if meta.get("exclusive_min") and not value > lo:
                raise UserError(f"{key}={value!r}: must be greater than {lo}")
            if not meta.get("exclusive_min") and value < lo:
                raise UserError(f"{key}={value!r}: must be at least {lo}")
        if hi is not None and value > hi:
            raise UserError(f"{key}={value!r}: must be at most {hi}")


@dataclass
class TrainConfig:
    """Training settings shared by every task (section `train`)."""

    epochs: int = hparam(10, help="passes over the training split", min=1)
    batch_size: int = hparam(64, help="examples per gradient step", min=1)
    learning_rate: float = hparam(1e-3, help="step size of the optimizer ({optimizer})", min=0.0, exclusive_min=True)
    clipnorm: float = hparam(
        1.0, help="clip each gradient to this global norm (the exploding-gradient remedy); 0 disables", min=0.0
    )
    optimizer: str = hparam("adam", help="optimizer name", choices=("adam", "adamw", "rmsprop", "sgd"))
    clip: str = hparam("norm", help="how clipnorm measures a gradient: norm (each variable's Euclidean norm) or "
                       "spectral (each weight matrix's largest singular value; sgd and adam)", choices=("norm", "spectral"))
    weight_decay: float = hparam(0.0, help="decoupled weight decay (adamw only)", min=0.0)
    patience: int = hparam(
        3, help="stop after this many epochs without a lower validation loss; 0 = train every epoch", min=0
    )
    keep_best: bool = hparam(
        True, help="end with the weights of the epoch with the lowest validation loss, not the last epoch's"
    )
    seed: int = hparam(1337, help="seed for data splits, shuffling, initialisation and dropout", min=0)
    xla: bool = hparam(
        False, help="compile the TensorFlow train, test and predict steps with XLA, also on a CPU (about 2x faster "
        "for the NTM's many small ops, slower to start); not under --strategy; the JAX backend compiles either way"
    )


@dataclass
class TaskData:
    """What `Task.load` returns: element-wise datasets and what the model needs to know about the data.

    `extras` holds anything else evaluation wants (raw texts for a bag-of-words baseline, a series
    for plotting); it is not saved.

    `train_elements`, optional, is `(size, fn)`: the training split again as `fn(i)` for `i` in
    `range(size)`, `fn` a TensorFlow function of a scalar int64 index giving the same elements as
    `train` in the same order. The pipeline's per-epoch shuffle then permutes indices instead of holding
    every element in memory: what a task whose examples are windows over one long array provides.
    """

    train: Any
    validation: Any
    test: Any
    info: dict
    extras: dict = field(default_factory=dict)
    train_elements: Any = None


@dataclass
class Compile:
    """What a task's models are compiled with, beside the pipeline's optimizer: weighted metrics see the
    datasets' sample weights (a task whose weights mark what is scored, such as a sequence's answer steps)."""

    loss: Any
    metrics: list = field(default_factory=list)
    weighted_metrics: list = field(default_factory=list)


@dataclass
class Schedule:
    """A task's own training schedule (`Task.schedule`).

    `callbacks`: Keras callbacks, functions of the epoch so that a resumed run repeats them (MemN2N's
    linear start and its halving learning rate); `warmup_epochs`: epochs at the start that early stopping
    and the best-epoch choice ignore (their validation losses are not comparable with the later ones);
    `pretrain(model, data, config) -> dict | None`: self-supervised training of part of the fresh model
    before the first epoch, its JSON-able record saved as the run's `pretraining.json` (a resumed run gets
    its weights from the backup instead).
    """

    callbacks: list = field(default_factory=list)
    warmup_epochs: int = 0
    pretrain: Callable | None = None


class ModelRegistry(dict):
    """A task's models: `name -> builder(model_config, data_info) -> keras.Model` (uncompiled), with the
    default model and the training defaults of these models.

    Args:
        builders: name -> builder.
        default: the default model's name.
        train: `TrainConfig` fields where the task's models train differently from the shared defaults.
        per_model: name -> `TrainConfig` fields of one model that trains differently from the task's others.
        per_data: `fn(data_spec, data_config) -> TrainConfig fields` where some data trains differently
            (thousands of series want larger batches than one series); applied after the data section is
            resolved, to the fields the user did not set.
    """

    def __init__(self, builders: dict, *, default: str, train: dict | None = None, per_model: dict | None = None,
                 per_data=None):
        super().__init__(builders)
        if default not in builders or set(per_model or {}) - set(builders):
            raise ValueError(f"registry: {default!r} or a per-model key is not among {', '.join(builders)}")
        self.default = default
        self.train = dict(train or {})
        self.per_model = {k: dict(v) for k, v in (per_model or {}).items()}
        self.per_data = per_data

    def data_defaults(self, data_spec, data_config) -> dict:
        """The `TrainConfig` fields this data trains with unless the user set them (`per_data`)."""
        return dict(self.per_data(data_spec, data_config)) if self.per_data else {}

    def train_defaults(self, name: str) -> dict:
        """The `TrainConfig` fields model `name` starts from (the task's, then its own)."""
        return {**self.train, **self.per_model.get(name, {})}

    def build(self, name: str, model_config, info: dict, task: str = "this task"):
        if name not in self:
            raise UserError(f"unknown model {name!r} for task {task!r}; choose from {', '.join(self)}")
        return self[name](model_config, info)


class Task(ABC):
    """Base class of every task; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_sources: ClassVar[tuple[str, ...]] = ()
    DataConfig: ClassVar[type]
    ModelConfig: ClassVar[type]
    models: ClassVar[ModelRegistry]
    quick: ClassVar[dict] = {}
    # Searched by `recurrent tune` unless `--space` says otherwise; fit-time settings included.
    tunable: ClassVar[dict] = {"train.learning_rate": (3e-4, 3e-3, "log"), "train.batch_size": [32, 64]}
    headline: ClassVar[str] = "loss"

    # -- data -------------------------------------------------------------------------------------
    @abstractmethod
    def load(self, spec: str | None, data_config, seed: int, run_info: dict | None = None) -> TaskData:
        """The data of `spec`; with `run_info`, read for evaluating that run (see the module docstring)."""

    def compatible_info(self, run_info: dict, new_info: dict) -> str | None:
        """Can a model trained on data described by `run_info` be evaluated on data described by
        `new_info` (`recurrent evaluate RUN --data ... --set data.KEY=...`)? None if so, else the reason.

        The default asks for identical preprocessing (vocabulary, scaler, shapes); a task whose models
        read data of other sizes says so here.
        """
        if run_info == new_info:
            return None
        differing = sorted(k for k in set(run_info) | set(new_info) if run_info.get(k) != new_info.get(k))
        return f"the data's {', '.join(differing[:3])} differ from the run's and {self.name} models need them equal"

    # -- training ---------------------------------------------------------------------------------
    @abstractmethod
    def compile(self, info: dict) -> Compile:
        """The loss and metrics of the task's models for data described by `info`."""

    def schedule(self, config) -> Schedule:
        """The task's own training schedule for the run's resolved config (none by default)."""
        return Schedule()

    # -- results ----------------------------------------------------------------------------------
    @abstractmethod
    def evaluate(self, model, data: TaskData, config) -> dict:
        """JSON-able test metrics of the trained `model`, baselines included; `config` is the run's RunConfig."""

    def plots(self, model, data: TaskData, config) -> dict:
        """`{name: matplotlib Figure, frames (time, rows, columns, channels) in [0, 1], or a pandas DataFrame
        (a table, saved as NAME.csv in the run)}`; called after `evaluate`."""
        return {}

    @abstractmethod
    def predict(self, model, inputs: list[str], info: dict, config=None) -> list[dict]:
        """Rows for raw inputs, in input order (see the module docstring)."""

    @abstractmethod
    def predict_examples(self, info: dict) -> list[str]:
        """A few raw inputs that `predict` accepts for data described by `info` (shown in help, used by tests)."""

    def format_prediction(self, row: dict) -> str:
        return "\t".join(f"{k}={v}" for k, v in row.items())

    # -- export -----------------------------------------------------------------------------------
    def export_inputs(self, model, info: dict) -> list:
        """The model's inputs as `tf.TensorSpec`s without the batch axis, every dimension static.

        A SavedModel serves them with any batch size; TFLite fixes batch 1 as well. The default reads
        the shapes off the model's inputs; a task whose model takes sequences of any length says which
        length to export.
        """
        import tensorflow as tf

        specs = []
        for tensor in model.inputs:
            if any(d is None for d in tensor.shape[1:]):
                raise UserError(f"task {self.name!r}: input {tensor.name!r} has no fixed shape {tuple(tensor.shape)} to export")
            specs.append(tf.TensorSpec(tuple(tensor.shape[1:]), tensor.dtype, name=tensor.name))
        return specs

    def endpoints(self, model, info: dict) -> list:
        """What export writes beside `serve`: `Endpoint`s and a `layers.streaming.StepModel` (none by default)."""
        return []


@dataclass
class Endpoint:
    """A further signature of an exported SavedModel, with what checks it.

    `fn(*tensors)` computes with TensorFlow ops only (a dict of named outputs); `input_signature` its
    `tf.TensorSpec`s; `examples(inputs)` picks its arguments (NumPy arrays) from the model's real test
    inputs; `reference(*arrays)` computes the same outputs through the task's own Python path. Outputs
    are compared exactly when `exact` (integer results: token ids), else within the export's tolerance;
    `agreement_needed` is the share of examples that must agree (a decoding may flip on a tie of floats).
    `tflite_outputs` names the outputs a TFLite model of the signature keeps (numeric ones: TFLite's
    built-in ops hold no strings); empty, the signature is exported to the SavedModel only. `trackables`:
    what the export must save for `fn` to run (a vocabulary lookup), if anything beyond the model.

    A raw-text entry is an Endpoint named `serve_text` (strings in); outputs that are one tensor are
    compared as `output`.
    """

    name: str
    fn: Callable
    input_signature: list
    examples: Callable
    reference: Callable
    exact: bool = False
    agreement_needed: float = 1.0
    tflite_outputs: tuple = ()
    trackables: Any = None

"""The contract every task fulfils, so that `pipelines/` never asks which task it holds.

A task is a subclass of `Task` living in its own module under `tasks/`. It declares:

- `name`, `description`, `data_sources` (one line per accepted `--data` form);
- three typed hyperparameter sections, as dataclasses: `DataConfig`, `ModelConfig`, and optional
  `train_defaults` overriding the shared `TrainConfig` defaults (for example a longer sequence task
  wanting a smaller batch), and `model_train_defaults` for a model trained differently from the
  task's default model (bAbI's LSTM baseline keeps Adam while its memory network uses SGD);
- `models`: a registry `name -> builder(model_config, data_info) -> keras.Model` (uncompiled);
- `load(spec, data_config, seed) -> TaskData`: element-wise (unbatched) train / validation / test
  `tf.data.Dataset`s plus `info`, a JSON-able dict of what the model and inference need to know about
  the data (vocabulary, scaler, image size); `info` is saved with the run;
- `pretrain(model, data, config)`: optional self-supervised training before `fit`;
- `callbacks(config)`, `warmup_epochs(config)`: a task's own training schedule (functions of the epoch,
  so resume repeats them) and the epochs early stopping must not compare;
- `loss(info)`, `metrics(info)`, `weighted_metrics(info)`: what to compile with (the optimizer is the
  pipeline's business; weighted metrics see the datasets' sample weights);
- `evaluate(model, data) -> dict`: JSON-able metrics, baselines included (`data.config` holds the
  run's settings);
- `compatible_info(run_info, new_info)`: whether a finished run can be evaluated on other data;
  `load_for_evaluation(...)`: `load` for evaluation only (a task may skip making its training split);
- `plots(model, data) -> {name: matplotlib Figure}`: the pictures people look at (the pipeline
  saves them as `plots/<name>.png` and draws the learning curves every task shares);
  `animations(model, data) -> {name: frames}`: the same for moving pictures (`plots/<name>.gif`);
- `predict(model, inputs, info, config) -> list[dict]`: raw user inputs (strings: sentences, file
  paths, ...) to JSON-able predictions, in input order, one row an input or several (a forecast gives
  one a future step); `config` is the run's resolved RunConfig (sampling settings...);
- `predict_examples(info)`: a few inputs `predict` accepts for this data (help text and tests);
- `quick`: overrides for `--quick` (tiny data, one epoch) so a smoke run takes seconds;
- `tunable`: the default search space of `recurrent tune`, `{"section.field": choices or range}`: a
  list is a choice, `(low, high)` a uniform range, `(low, high, "log")` a log-uniform one (integers
  stay integers);
- `export_inputs(info, model)`, `text_endpoint(model, info)`, `step_model(model, info)` and
  `endpoints(model, info)`: what export needs (fixed input shapes; a raw-text entry point for tasks
  that read text; a one-step model with explicit state for tasks whose models can stream; further
  entry points that do in the graph what the task otherwise does in Python, such as decoding a caption).

User mistakes (a bad data spec, a missing column, a wrong shape, a bad value) raise `UserError`
where they are found, with a message naming the problem; the command line prints it as one line.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar


class UserError(Exception):
    """A mistake in what the user asked for; its message is one line that names the problem."""


def warn(message: str) -> None:
    """A counted warning: the data is still usable, the user should know what was left out or changed."""
    print(f"recurrent: warning: {message}", file=sys.stderr)


def hparam(default, *, help: str = "", min=None, max=None, choices=None, exclusive_min=False):
    """A dataclass field carrying the metadata `validate_section` checks and `recurrent tasks` shows."""
    return field(
        default=default,
        metadata={
            "help": help,
            "min": min,
            "max": max,
            "choices": tuple(choices) if choices else None,
            "exclusive_min": exclusive_min,
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
    learning_rate: float = hparam(1e-3, help="Adam step size", min=0.0, exclusive_min=True)
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

    `config` is the run's resolved RunConfig; the pipeline sets it before `evaluate` and `plots`, which
    read settings of how to use the trained model there (a decoder's beam width) rather than of the data.
    """

    train: Any
    validation: Any
    test: Any
    info: dict
    extras: dict = field(default_factory=dict)
    train_elements: Any = None
    config: Any = None


class Task:
    """Base class of every task; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    data_sources: ClassVar[tuple[str, ...]] = ()
    DataConfig: ClassVar[type]
    ModelConfig: ClassVar[type]
    train_defaults: ClassVar[dict] = {}
    # Training defaults of one model where they differ from the task's (a baseline trained its own way).
    model_train_defaults: ClassVar[dict] = {}
    quick: ClassVar[dict] = {}
    models: ClassVar[dict[str, Callable]] = {}
    default_model: ClassVar[str] = ""
    # Searched by `recurrent tune` unless `--space` says otherwise; fit-time settings included.
    tunable: ClassVar[dict] = {"train.learning_rate": (3e-4, 3e-3, "log"), "train.batch_size": [32, 64]}

    # -- data -------------------------------------------------------------------------------------
    def load(self, spec: str | None, data_config, seed: int) -> TaskData:
        raise NotImplementedError

    def load_for_evaluation(self, spec: str | None, data_config, seed: int, run_info: dict) -> TaskData:
        """What `evaluate` reads: `load`'s test split and info (the other splits may be left empty).

        `run_info` is the data_info of the run being evaluated: a task whose preprocessing is learned from
        data (a vocabulary) applies the run's to the new data here, so a model can be scored on another
        dataset. A task whose training split is costly to make (solved instances) makes only the test split.
        """
        return self.load(spec, data_config, seed)

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

    def batch(self, dataset, batch_size: int):
        """Batch an element-wise dataset; tasks with ragged elements override this."""
        return dataset.batch(batch_size)

    # -- model ------------------------------------------------------------------------------------
    def build(self, model_name: str, model_config, info: dict):
        if model_name not in self.models:
            raise UserError(
                f"unknown model {model_name!r} for task {self.name!r}; choose from {', '.join(self.models)}"
            )
        return self.models[model_name](model_config, info)

    def loss(self, info: dict):
        raise NotImplementedError

    def metrics(self, info: dict) -> list:
        return []

    def pretrain(self, model, data: TaskData, config) -> dict | None:
        """Self-supervised training of part of the freshly built `model` before `fit` (a language model
        whose embedding and encoder weights start a classifier). `config` is the run's RunConfig.

        Returns a JSON-able record, saved as the run's `pretraining.json`, or None when the settings ask
        for no pretraining (the default). The pipeline calls it once per run, before the first epoch: a
        resumed run gets its weights back from the backup instead.
        """
        return None

    def callbacks(self, config) -> list:
        """Keras callbacks the task's training needs (a schedule of the model's own switches). They must
        be functions of the epoch, so that a resumed run repeats them exactly."""
        return []

    def warmup_epochs(self, config) -> int:
        """Epochs at the start of training that early stopping and the best-epoch choice ignore: a task
        whose callbacks change the model on a schedule (MemN2N's linear start removes the memory's
        softmax) makes those epochs' validation losses incomparable with the later ones."""
        return 0

    def weighted_metrics(self, info: dict) -> list:
        """Metrics that honour the datasets' sample weights (a task whose elements are (x, y, weight) and
        whose weights mark what is scored, such as the answer steps of a sequence)."""
        return []

    # -- results ----------------------------------------------------------------------------------
    def evaluate(self, model, data: TaskData) -> dict:
        raise NotImplementedError

    def plots(self, model, data: TaskData) -> dict:
        return {}

    def animations(self, model, data: TaskData) -> dict:
        """Moving pictures: `{name: frames}`, frames a (time, rows, columns, channels) array in [0, 1] (channels
        1 or 3); the pipeline saves each as `plots/<name>.gif` beside the figures. Called after `plots`."""
        return {}

    def predict(self, model, inputs: list[str], info: dict, config=None) -> list[dict]:
        raise NotImplementedError

    def predict_examples(self, info: dict) -> list[str]:
        """A few raw inputs that `predict` accepts for data described by `info` (shown in help, used by tests)."""
        raise NotImplementedError

    def format_prediction(self, row: dict) -> str:
        return "\t".join(f"{k}={v}" for k, v in row.items())

    # -- hooks for the tuning and export issue ----------------------------------------------------

    def export_inputs(self, info: dict, model) -> list:
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

    def step_model(self, model, info: dict):
        """For models that can stream: a `layers.streaming.StepModel` (one step and the state in, the
        output and the new state out), which export writes beside the full model; None otherwise."""
        return None

    def text_endpoint(self, model, info: dict) -> "TextEndpoint | None":
        """For tasks that read text: a function from raw strings to the model's outputs, for `serve_text`."""
        return None

    def endpoints(self, model, info: dict) -> "list[Endpoint]":
        """Further signatures of the exported SavedModel: what the task's `predict` does in Python around the
        model (a decoding loop), as TensorFlow ops, so a server needs no Python of this project."""
        return []


@dataclass
class TextEndpoint:
    """A raw-text entry point of an exported model, with what checks it.

    `fn(strings)` maps a (batch,) string tensor to the model's outputs with TensorFlow ops only (its
    vocabulary lives in `trackables`, which the export saves); `reference(texts)` computes the same
    outputs through the task's own Python preprocessing and the Keras model; `examples` are texts to
    compare the two on.
    """

    fn: Callable
    trackables: Any
    examples: list
    reference: Callable


@dataclass
class Endpoint:
    """A further signature of an exported SavedModel, with what checks it.

    `fn(*tensors)` computes with TensorFlow ops only (a dict of named outputs); `input_signature` its
    `tf.TensorSpec`s; `examples(inputs)` picks its arguments (NumPy arrays) from the model's real test
    inputs; `reference(*arrays)` computes the same outputs through the task's own Python path. Outputs
    are compared exactly when `exact` (integer results: token ids), else within the export's tolerance;
    `agreement_needed` is the share of examples that must agree (a decoding may flip on a tie of floats).
    `tflite_outputs` names the outputs a TFLite model of the signature keeps (numeric ones: TFLite's
    built-in ops hold no strings); empty, the signature is exported to the SavedModel only.
    """

    name: str
    fn: Callable
    input_signature: list
    examples: Callable
    reference: Callable
    exact: bool = False
    agreement_needed: float = 1.0
    tflite_outputs: tuple = ()

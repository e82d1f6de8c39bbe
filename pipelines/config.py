"""Config resolution: task defaults, then `--quick`, then a config file, then `--set key=value`, then flags.

A run's configuration has three typed sections, each a dataclass: `train` (shared by every task),
`data` and `model` (declared by the task), plus the model's name and the `--data` spec. Keys are
addressed as `section.field` (`train.epochs`, `data.encoding`, `model.units`). Values given as text
(`--set`) are converted to the field's type; a wrong type, an unknown key or an out-of-range value is a
`UserError` naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing
from dataclasses import dataclass

from keras_recurrent.tasks import Task, TrainConfig, UserError
from keras_recurrent.tasks.base import validate_section

SECTIONS = ("train", "data", "model")
TOP_LEVEL = ("model_name", "data_spec")


@dataclass
class RunConfig:
    task: str
    model_name: str
    data_spec: str | None
    train: TrainConfig
    data: typing.Any
    model: typing.Any

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "model_name": self.model_name,
            "data_spec": self.data_spec,
            **{s: dataclasses.asdict(getattr(self, s)) for s in SECTIONS},
        }

    def validate(self, task: Task) -> None:
        if self.model_name not in task.models:
            raise UserError(f"unknown model {self.model_name!r} for task {task.name!r}; choose from {', '.join(task.models)}")
        for section in SECTIONS:
            validate_section(section, getattr(self, section))


def _field_types(cls) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def field_metadata(cls) -> dict[str, dict]:
    """name -> the `hparam` metadata of each field of a hyperparameter section."""
    return {f.name: dict(f.metadata or {}) for f in dataclasses.fields(cls)}


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def coerce(value, to: type, key: str):
    """Convert `value` (text from the command line, or a JSON value) to `to`, or raise UserError."""
    expected = _TYPE_WORDS.get(to, to.__name__)
    wrong = UserError(f"{key}={value!r}: expected {expected}")
    if to is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise wrong
    if to is int:
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise wrong from None
        raise wrong
    if to is float:
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise wrong from None
        raise wrong
    if to is str:
        if isinstance(value, (dict, list)):
            raise wrong
        return str(value)
    raise TypeError(f"unsupported hyperparameter type {to!r} for {key}")


def _apply(config: RunConfig, key: str, value, origin: str) -> None:
    if key in TOP_LEVEL:
        setattr(config, key, None if value in (None, "") else str(value))
        return
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise UserError(
            f"{origin} {key}: unknown key; use section.field with section one of {', '.join(SECTIONS)}"
        )
    obj = getattr(config, section)
    types = _field_types(type(obj))
    if name not in types:
        raise UserError(f"{origin} {key}: unknown key; {section} has {', '.join(types)}")
    setattr(obj, name, coerce(value, types[name], key))


def _flatten(tree: dict, origin: str) -> dict:
    flat = {}
    for key, value in tree.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise UserError(f"{origin}: section {key!r} must be a table of key = value")
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        elif key in TOP_LEVEL:
            flat[key] = value
        elif key == "task":
            continue  # a saved config.json names its task; the command line decides which task runs
        else:
            raise UserError(f"{origin}: unknown key {key!r}; expected {', '.join(TOP_LEVEL + SECTIONS)}")
    return flat


def read_config_file(path: str) -> dict:
    """A JSON or TOML file with optional `model_name`, `data_spec` and `train`/`data`/`model` tables."""
    if not os.path.isfile(path):
        raise UserError(f"--config {path}: no such file")
    try:
        if path.endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                tree = tomllib.load(f)
        else:
            with open(path, encoding="utf-8") as f:
                tree = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"--config {path}: not valid {'TOML' if path.endswith('.toml') else 'JSON'}: {e}") from None
    if not isinstance(tree, dict):
        raise UserError(f"--config {path}: expected a table of sections at the top level")
    return _flatten(tree, f"--config {path}:")


def parse_set(items) -> list[tuple[str, str]]:
    pairs = []
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {item!r}: expected key=value, for example --set train.epochs=5")
        pairs.append((key.strip(), value))
    return pairs


def default_config(task: Task, model: str | None = None) -> RunConfig:
    """The task's defaults; a model with training defaults of its own (`ModelRegistry.per_model`) gets them."""
    model = model or task.models.default
    train = TrainConfig()
    for key, value in task.models.train_defaults(model).items():
        setattr(train, key, value)
    return RunConfig(task.name, model, None, train, task.DataConfig(), task.ModelConfig())


def normalise_spec(spec: str | None) -> str | None:
    # Store file specs as absolute paths so `evaluate RUN` finds the data from any directory; a source
    # named by a scheme (tfds:imdb_reviews, statsmodels:co2) or a bare word that is no file (generated)
    # is not a path.
    if not spec:
        return None
    if re.match(r"^[A-Za-z][\w.-]+:", spec) or (os.sep not in spec and "." not in spec and not os.path.exists(spec)):
        return spec
    return os.path.abspath(os.path.expanduser(spec))


def resolve_config(
    task: Task,
    *,
    model: str | None = None,
    data: str | None = None,
    config_file: str | None = None,
    overrides=(),
    quick: bool = False,
    **flags,
) -> RunConfig:
    """Resolve a run's configuration; `flags` are shortcuts such as epochs=3, seed=1, encoding='cp1252'.

    `overrides` is a list of "key=value" strings or (key, value) pairs.
    """
    from_file = read_config_file(config_file) if config_file else {}
    config = default_config(task, model or from_file.get("model_name"))
    given = set()  # the settings the user (or --quick) chose: data-dependent defaults leave them alone
    if quick:
        for key, value in task.quick.items():
            _apply(config, key, value, "--quick")
        given.update(task.quick)
    for key, value in from_file.items():
        _apply(config, key, value, f"--config {config_file}:")
    given.update(from_file)
    pairs = [p if isinstance(p, tuple) else parse_set([p])[0] for p in overrides]
    for key, value in pairs:
        _apply(config, key, value, "--set")
    given.update(key for key, _ in pairs)
    shortcuts = {"epochs": "train.epochs", "seed": "train.seed", "batch_size": "train.batch_size",
                 "encoding": "data.encoding"}
    for name, value in flags.items():
        if name not in shortcuts:
            raise TypeError(f"unknown option {name!r}")
        if value is not None:
            _apply(config, shortcuts[name], value, f"--{name.replace('_', '-')}")
            given.add(shortcuts[name])
    if model is not None:
        config.model_name = model
    if data is not None:
        config.data_spec = data
    config.data_spec = normalise_spec(config.data_spec)
    for key, value in task.models.data_defaults(config.data_spec, config.data).items():
        if f"train.{key}" not in given:
            setattr(config.train, key, value)
    config.validate(task)
    return config


def config_from_dict(task: Task, tree: dict) -> RunConfig:
    """Rebuild the RunConfig saved in a run's config.json."""
    config = default_config(task, tree.get("model_name"))
    for key, value in _flatten(tree, "config.json").items():
        _apply(config, key, value, "config.json")
    return config


def with_overrides(task: Task, base: RunConfig, pairs, origin: str) -> RunConfig:
    """A validated copy of `base` with (key, value) pairs applied, `base` untouched (sweep trials, best config)."""
    config = config_from_dict(task, base.to_dict())
    for key, value in pairs:
        _apply(config, key, value, origin)
    config.validate(task)
    return config


def describe_fields(obj) -> list[tuple[str, object, str]]:
    """(name, default, help) for each field of a hyperparameter section, for `recurrent tasks`; a help text's
    `{name}` shows the section's own value of that setting."""
    values = dataclasses.asdict(obj)
    return [(f.name, getattr(obj, f.name), (f.metadata or {}).get("help", "").format(**values))
            for f in dataclasses.fields(obj)]

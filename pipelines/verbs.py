"""The verbs every task shares, as Python functions: `train`, `evaluate`, `predict`.

The command line (`pipelines.cli`) is a thin layer over these, so a notebook gets what a terminal gets:

    >>> from keras_recurrent import pipelines
    >>> run = pipelines.train("sentiment", model="bigru", epochs=3, quick=True, quiet=True)
    >>> run.metrics["accuracy"]
    >>> pipelines.predict(run.path, ["not bad at all"])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from keras_recurrent.pipelines import config as cfg
from keras_recurrent.pipelines import distribution, fitting, rundir
from keras_recurrent.pipelines.environment import (deterministic_kernels, environment_record, quiet_tensorflow,
                                                   seed_everything)
from keras_recurrent.tasks import UserError, get_task

quiet_tensorflow()


@dataclass
class Run:
    """A finished run: where it lives, its resolved config and its test metrics."""

    path: str
    config: dict
    metrics: dict
    resumed_from_epoch: int = 0
    already_finished: bool = False


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


def _load_keras_model(run: str):
    """A run's model.keras, with every custom layer and optimizer it may hold registered first."""
    import keras

    import keras_recurrent.layers  # noqa: F401
    import keras_recurrent.pipelines.optimizers  # noqa: F401

    return keras.saving.load_model(os.path.join(run, "model.keras"))


def train(
    task: str,
    *,
    model: str | None = None,
    data: str | None = None,
    config: str | None = None,
    set: tuple | list = (),
    epochs: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    encoding: str | None = None,
    run_dir: str | None = None,
    root: str = rundir.DEFAULT_ROOT,
    quick: bool = False,
    quiet: bool = False,
    callbacks: list | None = None,
    strategy: str | None = None,
) -> Run:
    """Train a task's model and write a run directory; resume it if the same run was interrupted.

    Args:
        task: task name (`recurrent tasks` lists them).
        model: model name from the task's registry; the task's default if None.
        data: `--data` spec; the task's embedded default if None.
        config: a JSON or TOML file of `model_name`, `data_spec`, `train`, `data`, `model` settings.
        set: "section.key=value" overrides, applied after the config file.
        epochs, seed, batch_size, encoding: shortcuts for train.epochs, train.seed, train.batch_size,
            data.encoding, applied last.
        run_dir: where to write; default `<root>/<task>/<model>-<config hash>`.
        quick: the task's tiny smoke-test settings (small data, one epoch).
        quiet: no progress bars or messages.
        callbacks: extra Keras callbacks, run after the pipeline's own.
        strategy: "default", "mirrored" or "multiworker" (see `pipelines.distribution`): how the
            run is executed, recorded in environment.json, not part of the config.

    Returns:
        A `Run` with the run directory, the resolved config and the test metrics.
    """
    the_task = get_task(task)
    resolved = cfg.resolve_config(
        the_task, model=model, data=data, config_file=config, overrides=set, quick=quick,
        epochs=epochs, seed=seed, batch_size=batch_size, encoding=encoding,
    )
    config_dict = resolved.to_dict()
    dist = distribution.make(strategy)  # before any other TensorFlow work: strategies set up devices
    path = rundir.run_path(config_dict, run_dir, root)
    if not dist.is_chief:
        return _train_worker(the_task, resolved, config_dict, path, quiet, callbacks, dist)
    rundir.state_of(path)  # a directory that is no run is refused before the lock writes into it
    # The lock covers the whole run, from reading the directory's state to the last file written.
    with rundir.locked(path) as locked_path:
        return _train_locked(the_task, resolved, config_dict, locked_path, quiet, callbacks, dist)


def _train_locked(the_task, resolved, config_dict, run_dir, quiet, callbacks, dist) -> Run:
    task = the_task.name
    path, state = rundir.choose_run_dir(config_dict, run_dir)
    if state == rundir.FINISHED:
        _say(quiet, f"already trained with this config and seed: {path} (pass --seed, --set or --run-dir to train another)")
        return Run(path, config_dict, rundir.read_json(os.path.join(path, "metrics.json")), already_finished=True)

    data_set, net = fitting.prepare(the_task, resolved, dist)
    info = data_set.info
    if state == rundir.NEW:
        os.makedirs(path, exist_ok=True)
        rundir.write_json(os.path.join(path, "data_info.json"), info)
        environment = dict(environment_record(resolved.train.seed), distribution=dist.record())
        rundir.write_json(os.path.join(path, "environment.json"), environment)
        rundir.write_json(os.path.join(path, "config.json"), config_dict)  # last: marks the directory as a run
    where = "" if dist.name == "default" else f" ({dist.name}: {dist.replicas} replicas, {dist.num_workers} workers)"
    _say(quiet, f"{'resuming' if state == rundir.UNFINISHED else 'training'} {task}/{resolved.model_name} in {path}{where}")
    if state == rundir.UNFINISHED and not os.path.isdir(os.path.join(path, "backup")):
        _say(quiet, "no backup found (interrupted before the first epoch ended): starting from epoch 1")

    done = fitting.fit(the_task, resolved, data_set, net, path, quiet=quiet, callbacks=callbacks or (), dist=dist)
    history = done.history

    rundir.save_model(net, os.path.join(path, "model.keras"))
    if dist.num_workers > 1:
        # Evaluating the distributed model would run collective ops the other workers no longer join:
        # the chief evaluates a plain copy of the trained model instead.
        net = _load_keras_model(path)
    metrics = _evaluate_and_plot(the_task, net, data_set, path, history, resolved)
    metrics["train_seconds_this_process"] = round(done.seconds, 2)
    metrics["epochs_trained"] = len(history)
    if done.restored_best and done.best_epoch is not None:
        metrics["best_epoch"] = done.best_epoch + 1  # 1-based, as Keras prints epochs
    rundir.write_json(os.path.join(path, "metrics.json"), metrics)
    rundir.point_latest(path)
    _say(quiet, f"done: {path}\n{summary_line(metrics, the_task.headline)}")
    return Run(path, config_dict, metrics, resumed_from_epoch=done.first_epoch)


def _train_worker(the_task, resolved, config_dict, path, quiet, callbacks, dist) -> Run:
    """A non-chief worker of a multi-worker run: train in step with the chief, keep a backup of its own.

    The chief owns the run directory; this worker writes only `<run>/workers/<index>/` (its backup and
    history), as Keras's fault tolerance wants one backup per worker.
    """
    own = os.path.join(path, rundir.WORKERS_DIR, str(dist.worker_index))
    with rundir.locked(own, what="worker directory"):
        data_set, net = fitting.prepare(the_task, resolved, dist)
        _say(quiet, f"worker {dist.worker_index} of {dist.num_workers}: training {the_task.name}/{resolved.model_name} for {path}")
        fitting.fit(the_task, resolved, data_set, net, own, quiet=quiet, callbacks=callbacks or (), dist=dist)
    _say(quiet, f"worker {dist.worker_index}: done; the chief writes {path}")
    return Run(path, config_dict, {})


def _evaluate_and_plot(the_task, net, data_set, path, history, config) -> dict:
    """The task's metrics; its pictures saved under `path/plots/` (a Figure as PNG, frames as GIF), its
    tables in `path` (a DataFrame as CSV)."""
    from keras_recurrent.pipelines.plotting import learning_curves

    metrics = the_task.evaluate(net, data_set, config)
    pictures = dict(the_task.plots(net, data_set, config))
    if history:
        pictures["learning_curves"] = learning_curves(history, f"{the_task.name} / {config.model_name}")
    for name, picture in pictures.items():
        if hasattr(picture, "savefig"):
            rundir.save_figure(picture, os.path.join(path, "plots", f"{name}.png"))
        elif hasattr(picture, "to_csv"):  # a table (pandas DataFrame): beside metrics.json, as CSV
            rundir.files.write_text(os.path.join(path, f"{name}.csv"), picture.to_csv(index=False))
        else:  # (time, rows, columns, channels) frames: a moving picture
            rundir.save_gif(picture, os.path.join(path, "plots", f"{name}.gif"))
    return metrics


# What `train` adds to the task's metrics about the training itself; `evaluate` keeps them in metrics.json
# but does not print them as its own facts.
TRAINING_FACTS = ("train_seconds_this_process", "epochs_trained", "best_epoch")


def summary_line(metrics: dict, headline: str, skip=()) -> str:
    """The task's headline metric first, then its other numbers, then each baseline's headline metric
    (a baseline is a number, such as an n-gram model's bpc, or a dict holding the headline metric)."""
    def is_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    shown = {k: v for k, v in metrics.items() if is_number(v) and k not in skip}
    order = sorted(shown, key=lambda k: k != headline)  # stable: the headline first, the rest as the task gave them
    parts = [f"{k}={shown[k]:.4f}" if isinstance(shown[k], float) else f"{k}={shown[k]}" for k in order]
    for name, values in metrics.get("baselines", {}).items():
        value = values.get(headline) if isinstance(values, dict) else values
        if is_number(value):
            parts.append(f"baseline[{name}]={value:.4f}")
    return "  ".join(parts)


def load_run(run: str):
    """(task, RunConfig, data_info, model) of a finished run directory."""
    if not os.path.isdir(run):
        raise UserError(f"{run}: no such run directory")
    for name in ("config.json", "data_info.json", "model.keras"):
        if not os.path.isfile(os.path.join(run, name)):
            raise UserError(f"{run}: not a finished run (no {name}); train it first")
    saved = rundir.read_json(os.path.join(run, "config.json"))
    task = get_task(saved.get("task", ""))
    config = cfg.config_from_dict(task, saved)
    info = rundir.read_json(os.path.join(run, "data_info.json"))
    model = _load_keras_model(run)
    if config.train.xla:  # the saved compile settings do not keep it
        deterministic_kernels(False)
        model.jit_compile = True
    return task, config, info, model


def evaluate(run: str, *, data: str | None = None, set=(), quiet: bool = False) -> dict:
    """Re-evaluate a finished run on its test split; rewrite `metrics.json` and the plots.

    With `data` (a `--data` spec) or `set` ("data.KEY=VALUE" overrides, or settings of how the trained
    model is used, such as model.beam_width) it evaluates the run on other data instead: the task checks
    that the model can read it (`Task.compatible_info`), and the metrics and plots go to
    `RUN/evaluations/NAME/`, leaving the run's own untouched. Returns the metrics.
    """
    from keras_recurrent.pipelines.callbacks import read_history

    task, config, info, model = load_run(run)
    if data or set:
        return _evaluate_elsewhere(run, task, config, info, model, data, set, quiet)
    with rundir.locked(run):
        seed_everything(config.train.seed, config.train.xla)
        data_set = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
        history = read_history(os.path.join(run, "history.csv"))
        metrics = _evaluate_and_plot(task, model, data_set, run, history, config)
        previous = rundir.read_json(os.path.join(run, "metrics.json"))
        for key in TRAINING_FACTS:
            if key in previous:
                metrics[key] = previous[key]
        rundir.write_json(os.path.join(run, "metrics.json"), metrics)
    _say(quiet, summary_line(metrics, task.headline, skip=TRAINING_FACTS))
    return metrics


def _evaluate_elsewhere(run, task, config, info, model, data, overrides, quiet) -> dict:
    pairs = cfg.parse_set(overrides)
    # Settings that change how a trained model is used, not its weights (`hparam(at_use=True)`).
    at_use = [f"model.{name}" for name, meta in cfg.field_metadata(type(config.model)).items() if meta.get("at_use")]
    for key, _ in pairs:
        if not key.startswith("data.") and key not in at_use:
            also = f" (and {', '.join(at_use)})" if at_use else ""
            raise UserError(f"evaluate --set {key}: only data settings{also} can change after training; train "
                            f"another run for the rest")
    other = cfg.with_overrides(task, config, pairs, "--set")
    if data:
        other.data_spec = cfg.normalise_spec(data)
    seed_everything(other.train.seed, other.train.xla)
    data_set = fitting.load_for_run(task, other.data_spec, other.data, other.train.seed, info, where=f"evaluate {run}")
    parts = ([os.path.basename(str(data).rstrip("/"))] if data else []) + [f"{k}={v}" for k, v in pairs]
    name = re.sub(r"[^\w.=,-]+", "_", ",".join(parts))[:120]
    target = os.path.join(run, "evaluations", name)
    with rundir.locked(run):
        metrics = _evaluate_and_plot(task, model, data_set, target, None, other)
        metrics["evaluated_on"] = {"data": other.data_spec, "settings": dict(pairs)}
        rundir.write_json(os.path.join(target, "metrics.json"), metrics)
    _say(quiet, f"{summary_line(metrics, task.headline)}\n(written to {target})")
    return metrics


def predict(run: str, inputs: list[str], *, output_dir: str | None = None, overwrite: bool = False,
            loaded=None) -> list[dict]:
    """Predictions of a finished run for raw inputs (texts, file paths: whatever the task reads).

    Files a task makes for an input (a predicted clip) are written beside the input under a name that
    does not exist yet, or into `output_dir`; an existing file is replaced only with `overwrite`
    (`pipelines.outputs`). `loaded` is `load_run(run)` when the caller has it already.
    """
    from keras_recurrent.pipelines.outputs import OutputPlan

    plan = OutputPlan(output_dir, overwrite)
    task, config, info, model = loaded or load_run(run)
    return plan.write(task.predict(model, list(inputs), info, config))

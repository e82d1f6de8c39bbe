"""Hyperparameter sweeps with keras-tuner, the same for every task.

    recurrent tune TASK [--tuner random|grid|hyperband|bayesian] [--max-trials N] [--model M] [--data SPEC]
                        [--set KEY=VALUE ...] [--space KEY=SPEC ...] [--fresh] [--retrain-best] [--prune median]

A trial is an ordinary training of the task through the run's own procedure (`fitting.fit`: the task's
schedule, early stopping, the seeded epoch shuffle) with some settings drawn by the tuner, its files in
`trial_<id>/` (history.csv, result.json); its objective is the validation loss of the epoch a run would
keep. `--prune median` stops a trial whose best validation loss after epoch k is worse than the median
of the finished trials' at epoch k (Optuna's median rule); `trials.csv` says after which epoch. The searched
settings are the task's `tunable` declaration unless `--space` names others:
`--space model.units=32,64,128` (a choice), `--space train.learning_rate=1e-4:1e-2:log` (a
log-uniform range), `--space model.dropout=0:0.5` (a uniform range; integers if both ends are).

The sweep lives in `<root>/<task>/sweeps/<tuner>-<hash>/` (the hash covers the base config, the space
and the tuner), and is resumable: running the same command again continues where it stopped and never
re-runs a finished trial; `--fresh` starts over. When the search ends it writes `trials.csv`,
`summary.json`, `plots/trials.png` (objective by trial and by each searched setting) and
`best_config.json`, which `recurrent train --config` accepts; `--retrain-best` trains it into an
ordinary run directory. The Keras session is cleared after every trial, so memory stays flat.

Distributed sweeps use keras-tuner's own chief / worker mode, configured by its environment variables:
one chief process holds the search state and serves it (KERASTUNER_TUNER_ID=chief), any number of
workers run trials (KERASTUNER_TUNER_ID=worker0, worker1, ...), all started with the same command and
KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT naming the chief's address. They share the sweep
directory (a shared file system across machines); the chief locks it and writes the summary once
every trial has finished. `trial_log.csv` records which tuner ran each trial.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os

from keras_recurrent.pipelines import config as cfg
from keras_recurrent.pipelines import rundir
from keras_recurrent.pipelines.environment import quiet_tensorflow
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.pictures import counting

quiet_tensorflow()

TUNERS = ("random", "grid", "hyperband", "bayesian")
OBJECTIVE = "val_loss"
TRIAL_LOG = "trial_log.csv"
TRIAL_RESULT = "result.json"  # in each trial's directory: its objective, kept epoch and whether it was pruned
PRUNERS = ("median",)
# Optuna's MedianPruner waits for this many finished trials before it prunes any (its n_startup_trials is 5;
# sweeps here are short, so fewer).
MEDIAN_STARTUP_TRIALS = 2


def distributed_role() -> str | None:
    """None when tuning in one process; "chief" or the worker's id under keras-tuner's chief/worker mode."""
    ip, port, tuner_id = (os.environ.get(k) for k in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"))
    if ip is None and port is None:
        return None
    if not ip or not port:
        raise UserError("distributed tuning needs both KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT (the chief's address)")
    if not port.isdigit():
        raise UserError(f"KERASTUNER_ORACLE_PORT={port!r}: expected a port number")
    if not tuner_id:
        raise UserError("distributed tuning needs KERASTUNER_TUNER_ID: 'chief' for the chief, a distinct id per worker")
    return tuner_id


def _log_trial(directory: str, trial_id: str, tuner_id: str, value: float) -> None:
    # One short line per append: several worker processes write here, and O_APPEND keeps lines whole.
    path = os.path.join(directory, TRIAL_LOG)
    line = f"{trial_id},{tuner_id},{os.getpid()},{value!r}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            os.write(fd, b"trial,tuner,pid,val_loss\n")
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _finished_histories(directory: str, but: str) -> list[list[dict]]:
    """The histories of the sweep's trials that ran to their end (not pruned), other than trial `but`."""
    from keras_recurrent.pipelines.callbacks import read_history

    histories = []
    for name in sorted(os.listdir(directory)):
        result = os.path.join(directory, name, TRIAL_RESULT)
        if name.startswith("trial_") and name != f"trial_{but}" and os.path.isfile(result):
            if rundir.read_json(result).get("pruned_at_epoch") is None:
                histories.append(read_history(os.path.join(directory, name, "history.csv")))
    return histories


def parse_space(items) -> dict:
    """`["model.units=32,64", "train.learning_rate=1e-4:1e-2:log"]` -> {key: list or (low, high[, "log"])}."""
    space = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise UserError(f"--space {item!r}: expected KEY=a,b,c or KEY=low:high[:log]")
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
                raise UserError(f"--space {item!r}: a range is low:high or low:high:log")
            space[key] = (parts[0], parts[1], "log") if len(parts) == 3 else (parts[0], parts[1])
        else:
            space[key] = [v.strip() for v in text.split(",") if v.strip()]
    return space


def _typed_space(task, base: cfg.RunConfig, space: dict) -> dict:
    """Check every key names a hyperparameter of the task and convert its values to the field's type."""
    typed = {}
    for key, spec in space.items():
        section, _, name = key.partition(".")
        if section not in cfg.SECTIONS or not name:
            raise UserError(f"--space {key}: not a hyperparameter; use section.field (section one of {', '.join(cfg.SECTIONS)})")
        types = cfg._field_types(type(getattr(base, section)))
        if name not in types:
            raise UserError(f"--space {key}: not a hyperparameter of task {task.name!r}; {section} has {', '.join(types)}")
        kind = types[name]
        if isinstance(spec, list):
            if not spec:
                raise UserError(f"--space {key}: no values")
            typed[key] = [cfg.coerce(v, kind, key) for v in spec]
        else:
            if kind not in (int, float):
                raise UserError(f"--space {key}: a range needs a numeric setting; give choices a,b,c")
            low, high = (cfg.coerce(v, kind, key) for v in spec[:2])
            if not low < high:
                raise UserError(f"--space {key}: the range {low}:{high} is empty")
            if len(spec) == 3 and low <= 0:
                raise UserError(f"--space {key}: a log range needs a positive lower end")
            typed[key] = (low, high, *spec[2:])
        # Every value must pass the field's own range check, or trials would fail one by one.
        for value in (typed[key] if isinstance(typed[key], list) else typed[key][:2]):
            cfg.with_overrides(task, base, [(key, value)], "--space")
    return typed


def _draw(hp, key: str, spec):
    name = key  # keras-tuner names may hold dots
    if isinstance(spec, list):
        return hp.Choice(name, spec)
    low, high, *scale = spec
    sampling = "log" if scale else "linear"
    if isinstance(low, int) and isinstance(high, int):
        return hp.Int(name, low, high, sampling=sampling)
    return hp.Float(name, float(low), float(high), sampling=sampling)


def _sweep_dir(root: str, task: str, tuner: str, base: dict, space: dict) -> str:
    fingerprint = {"base": base, "space": {k: list(v) for k, v in space.items()}, "tuner": tuner}
    return os.path.join(root, task, "sweeps", f"{tuner}-{rundir.config_hash(fingerprint)}")


def _make_tuner(kind: str, task, base: cfg.RunConfig, space: dict, directory: str, max_trials: int, fresh: bool,
                quiet: bool, prune: str | None = None):
    import keras
    import keras_tuner as kt

    from keras_recurrent.pipelines import fitting
    from keras_recurrent.pipelines.callbacks import MedianPruner

    data_cache = {}
    tuner_classes = {"random": kt.RandomSearch, "grid": kt.GridSearch, "hyperband": kt.Hyperband,
                     "bayesian": kt.BayesianOptimization}

    class TaskTuner(tuner_classes[kind]):
        def run_trial(self, trial, *args, **kwargs):
            values = trial.hyperparameters.values
            pairs = [(key, values[key]) for key in space if key in values]
            if "tuner/epochs" in values:  # hyperband's budget for this bracket
                pairs.append(("train.epochs", int(values["tuner/epochs"])))
            trial_config = cfg.with_overrides(task, base, pairs, "trial")
            data_key = json.dumps(trial_config.to_dict()["data"], sort_keys=True)
            cached = data_cache.get(data_key)  # data settings rarely change between trials
            data, model = fitting.prepare(task, trial_config, data=cached)
            data_cache.clear()
            data_cache[data_key] = data
            # A trial trains as a run would (fitting.fit): only the pruner is its own.
            trial_dir = self.get_trial_dir(trial.trial_id)
            if not os.path.isdir(os.path.join(trial_dir, "backup")):  # not resuming: no file of an earlier sweep counts
                for name in (fitting.HISTORY, TRIAL_RESULT):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(trial_dir, name))
            pruner = None
            if prune == "median":
                def finished_at(epoch, trial_id=trial.trial_id):
                    return [row[OBJECTIVE] for history in _finished_histories(directory, trial_id)
                            for row in history if row["epoch"] == epoch and OBJECTIVE in row]

                pruner = MedianPruner(finished_at, OBJECTIVE, MEDIAN_STARTUP_TRIALS, task.schedule(trial_config).warmup_epochs)
            done = fitting.fit(task, trial_config, data, model, trial_dir, callbacks=[pruner] if pruner else [])
            del model
            keras.backend.clear_session()  # what keeps memory flat across trials
            best = done.objective if math.isfinite(done.objective) else 1e30
            pruned = pruner.pruned_at if pruner else None
            rundir.write_json(os.path.join(trial_dir, TRIAL_RESULT), {
                OBJECTIVE: best, "kept_epoch": done.kept_epoch, "epochs_trained": len(done.history),
                "pruned_at_epoch": pruned})
            _log_trial(directory, trial.trial_id, self.tuner_id, best)
            if not quiet:
                stopped = f"  (pruned after epoch {pruned + 1})" if pruned is not None else ""
                print(f"trial {trial.trial_id} ({self.tuner_id}): {OBJECTIVE}={best:.4f}  {_describe(values, space)}{stopped}",
                      flush=True)
            return {OBJECTIVE: best}

    def build(hp):
        for key, spec in space.items():
            _draw(hp, key, spec)
        return None

    common = dict(objective=kt.Objective(OBJECTIVE, "min"), directory=os.path.dirname(directory),
                  project_name=os.path.basename(directory), overwrite=fresh, seed=base.train.seed)
    hypermodel = kt.HyperModel()
    hypermodel.build = build
    if kind == "hyperband":
        return TaskTuner(hypermodel=hypermodel, max_epochs=base.train.epochs, factor=3,
                         hyperband_iterations=1, max_retries_per_trial=0, **common)
    return TaskTuner(hypermodel=hypermodel, max_trials=max_trials, max_retries_per_trial=0, **common)


def _describe(values: dict, space: dict) -> str:
    return "  ".join(f"{k}={values[k]:.4g}" if isinstance(values.get(k), float) else f"{k}={values.get(k)}"
                     for k in space if k in values)


def tune(
    task: str,
    *,
    tuner: str = "random",
    max_trials: int = 10,
    model: str | None = None,
    data: str | None = None,
    config: str | None = None,
    set: tuple | list = (),
    space: tuple | list = (),
    epochs: int | None = None,
    seed: int | None = None,
    quick: bool = False,
    fresh: bool = False,
    retrain_best: bool = False,
    prune: str | None = None,
    root: str = rundir.DEFAULT_ROOT,
    quiet: bool = False,
) -> dict:
    """Run (or continue) a sweep; return its summary (best value, best config path, trials).

    Raises UserError, with nothing written, for an unknown tuner, `max_trials` below 1, or a space
    key that is not a hyperparameter of the task (or values its range check refuses).
    """
    if tuner not in TUNERS:
        raise UserError(f"--tuner {tuner!r}: expected one of {', '.join(TUNERS)}")
    if not isinstance(max_trials, int) or max_trials < 1:
        raise UserError(f"--max-trials {max_trials!r}: must be at least 1")
    if prune is not None and prune not in PRUNERS:
        raise UserError(f"--prune {prune!r}: expected one of {', '.join(PRUNERS)}")
    the_task = get_task(task)
    base = cfg.resolve_config(the_task, model=model, data=data, config_file=config, overrides=set, quick=quick,
                              epochs=epochs, seed=seed)
    typed = _typed_space(the_task, base, parse_space(space) if space else dict(the_task.tunable))
    if tuner == "grid" and any(not isinstance(v, list) for v in typed.values()):
        raise UserError("--tuner grid searches choices only; give every --space key as a,b,c")
    directory = _sweep_dir(root, task, tuner, base.to_dict(), typed)
    role = distributed_role()
    if role not in (None, "chief"):
        return _work(role, tuner, the_task, base, typed, directory, max_trials, fresh, quiet, prune)
    with rundir.locked(directory, what="sweep directory"):
        if fresh and os.path.isfile(os.path.join(directory, TRIAL_LOG)):
            os.remove(os.path.join(directory, TRIAL_LOG))
        search = _make_tuner(tuner, the_task, base, typed, directory, max_trials, fresh, quiet, prune)
        if role == "chief" and not quiet:
            print(f"chief: serving the sweep {directory} at {os.environ['KERASTUNER_ORACLE_IP']}:"
                  f"{os.environ['KERASTUNER_ORACLE_PORT']} until the workers finish every trial", flush=True)
        search.search(verbose=0 if quiet else 1)
        summary = _summarise(search, the_task, base, typed, directory, tuner)
    if not quiet:
        print(f"best {OBJECTIVE}={summary['best_value']:.4f} ({summary['completed_trials']} trials); "
              f"config: {summary['best_config']}")
    if retrain_best:
        from keras_recurrent.pipelines.verbs import train

        run = train(task, config=summary["best_config"], quiet=quiet, root=root)
        summary["retrained_run"] = run.path
    return summary


def _work(role, tuner, the_task, base, typed, directory, max_trials, fresh, quiet, prune) -> dict:
    """A worker of a distributed sweep: run the trials the chief hands out until it says stop.

    Workers take no lock (they share the directory with the chief, which holds it) and write only their
    own trials; the chief writes the summary. `--fresh` belongs to the chief, which owns the state.
    """
    if fresh:
        raise UserError(f"--fresh on worker {role!r}: only the chief (KERASTUNER_TUNER_ID=chief) can start a sweep over")
    os.makedirs(directory, exist_ok=True)
    search = _make_tuner(tuner, the_task, base, typed, directory, max_trials, False, quiet, prune)
    search.search(verbose=0)
    ran = [row["trial"] for row in _read_trial_log(directory) if row["tuner"] == role]
    if not quiet:
        print(f"worker {role}: ran {len(ran)} trials; the chief writes the summary in {directory}")
    return {"worker": role, "trials_run": ran, "directory": directory}


def _read_trial_log(directory: str) -> list[dict]:
    path = os.path.join(directory, TRIAL_LOG)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _summarise(search, task, base: cfg.RunConfig, space: dict, directory: str, tuner: str) -> dict:
    trials = [t for t in search.oracle.trials.values() if t.status == "COMPLETED" and t.score is not None]
    if not trials:
        raise UserError(f"sweep {directory}: no trial completed")
    trials.sort(key=lambda t: int(t.trial_id) if t.trial_id.isdigit() else t.trial_id)
    rows = [{"trial": t.trial_id, OBJECTIVE: t.score, **{k: t.hyperparameters.values.get(k) for k in space},
             "pruned_after_epoch": _pruned_after(directory, t.trial_id)} for t in trials]
    best = min(trials, key=lambda t: t.score)
    best_config = cfg.with_overrides(task, base, [(k, best.hyperparameters.values[k]) for k in space], "best trial")
    best_tree = best_config.to_dict()
    best_tree.pop("task")
    best_path = os.path.join(directory, "best_config.json")
    rundir.write_json(best_path, best_tree)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    rundir.write_text(os.path.join(directory, "trials.csv"), buffer.getvalue())
    summary = {"task": task.name, "tuner": tuner, "objective": OBJECTIVE, "completed_trials": len(rows),
               "best_trial": best.trial_id, "best_value": best.score, "best_values": {k: best.hyperparameters.values[k] for k in space},
               "best_config": best_path, "space": {k: list(v) for k, v in space.items()}, "trials": rows}
    rundir.write_json(os.path.join(directory, "summary.json"), summary)
    rundir.save_figure(trials_figure(rows, space, f"{task.name} / {base.model_name}: {tuner} search"),
                       os.path.join(directory, "plots", "trials.png"))
    return summary


def _pruned_after(directory: str, trial_id: str):
    """The 1-based epoch after which the median pruner stopped the trial; "" when it ran to its end."""
    path = os.path.join(directory, f"trial_{trial_id}", TRIAL_RESULT)
    pruned = rundir.read_json(path).get("pruned_at_epoch") if os.path.isfile(path) else None
    return "" if pruned is None else pruned + 1


def trials_figure(rows: list[dict], space: dict, title: str):
    """The objective by trial (with the best so far), and against each searched setting."""
    import matplotlib.pyplot as plt

    keys = list(space)
    fig, axes = plt.subplots(1, 1 + len(keys), figsize=(3.6 * (1 + len(keys)), 3.2), squeeze=False)
    values = [r[OBJECTIVE] for r in rows]
    ax = axes[0][0]
    ax.plot(range(1, len(values) + 1), values, "o", label="trial")
    ax.plot(range(1, len(values) + 1), [min(values[: i + 1]) for i in range(len(values))], "-", label="best so far")
    ax.set_xlabel("trial")
    counting(ax)
    ax.set_ylabel(OBJECTIVE)
    ax.legend(fontsize=8)
    for ax, key in zip(axes[0][1:], keys):
        xs = [r[key] for r in rows]
        if all(isinstance(x, (int, float)) for x in xs):
            ax.plot(xs, values, "o")
            if isinstance(space[key], tuple) and len(space[key]) == 3:
                ax.set_xscale("log")
        else:
            labels = sorted({str(x) for x in xs})
            ax.plot([labels.index(str(x)) for x in xs], values, "o")
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(key)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

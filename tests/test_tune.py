"""Sweeps: every task tunes through one code path, resumes without re-running trials, and writes a
best config that `train --config` accepts."""

import csv
import json
import os

import pytest

from keras_recurrent import pipelines
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task, task_names


def _trials(directory):
    with open(os.path.join(directory, "trials.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("task", task_names())
def test_every_task_declares_a_valid_default_space(task):
    # Every key names a setting of the task and every value passes its range check (what a trial would
    # refuse one by one); a trial itself is the training procedure of a run (test_a_trial_trains_as...).
    from keras_recurrent.pipelines import config as cfg
    from keras_recurrent.pipelines.tuning import _typed_space

    the_task = get_task(task)
    typed = _typed_space(the_task, cfg.resolve_config(the_task, quick=True), dict(the_task.tunable))
    assert set(typed) == set(the_task.tunable) and typed


def test_a_default_space_sweep_writes_its_summary(tmp_path):
    summary = pipelines.tune("adding", max_trials=1, quick=True, quiet=True, root=str(tmp_path))
    directory = os.path.dirname(summary["best_config"])
    assert summary["completed_trials"] == 1 and len(_trials(directory)) == 1
    assert set(summary["best_values"]) == set(get_task("adding").tunable)
    assert os.path.isfile(os.path.join(directory, "plots", "trials.png"))
    assert summary["best_value"] == min(float(r["val_loss"]) for r in _trials(directory))


def test_resume_never_reruns_a_trial_and_best_config_trains(tmp_path, capsys):
    root = str(tmp_path)
    space = ["--space", "model.units=8,16", "--space", "train.learning_rate=1e-3:1e-2:log"]
    args = ["tune", "adding", "--quick", "--max-trials", "2", *space]
    os.chdir(tmp_path)
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.count("trial ") >= 2
    assert main(args) == 0  # same command: nothing left to run
    again = capsys.readouterr().out
    assert "trial 0:" not in again and "trial 1:" not in again
    assert main(args[:4] + ["3", *space, "--retrain-best", "--quiet"]) == 0  # one more trial, then retrain
    best_path = capsys.readouterr().out.strip().splitlines()[-1]
    directory = os.path.dirname(best_path)
    ids = [r["trial"] for r in _trials(os.path.join(root, directory))]
    assert len(ids) == len(set(ids)) == 3
    best = json.loads(open(best_path).read())
    assert best["model"]["units"] in (8, 16) and 1e-3 <= best["train"]["learning_rate"] <= 1e-2
    runs = [d for d in os.listdir(os.path.join(root, "saved_models", "adding")) if d.startswith("lstm-")]
    assert len(runs) == 1  # --retrain-best made an ordinary run directory
    assert main(["tune", "adding", "--quick", "--max-trials", "3", *space, "--fresh", "--quiet"]) == 0
    assert len(_trials(os.path.join(root, directory))) == 3  # started over, not appended


@pytest.mark.parametrize("kwargs,message", [
    ({"max_trials": 0}, "--max-trials 0: must be at least 1"),
    ({"tuner": "annealing"}, "--tuner 'annealing': expected one of"),
    ({"space": ["model.colour=red"]}, "--space model.colour: not a hyperparameter of task 'sentiment'"),
    ({"space": ["train.optimizer=0:1"]}, "a range needs a numeric setting"),
    ({"space": ["model.units=0,8"]}, "model.units=0: must be at least 1"),
    ({"tuner": "grid", "space": ["model.dropout=0:0.5"]}, "grid searches choices only"),
])
def test_bad_sweeps_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pipelines.tune("sentiment", quick=True, quiet=True, root=str(tmp_path), **kwargs)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("tuner", ["grid", "hyperband", "bayesian"])
def test_every_tuner_runs(tuner, tmp_path):
    summary = pipelines.tune("adding", tuner=tuner, max_trials=2, quick=True, epochs=2, quiet=True,
                             space=["model.units=4,8"], root=str(tmp_path))
    assert summary["tuner"] == tuner and summary["best_values"]["model.units"] in (4, 8)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_sweep_runs_every_trial_exactly_once(tmp_path):
    """keras-tuner's chief / worker mode on localhost: a chief and two workers share one sweep."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "keras_recurrent", "tune", "adding", "--quick", "--max-trials", "3", "--seed", "2"]
    env = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(_free_port()),
               TF_CPP_MIN_LOG_LEVEL="3")

    def start(tuner_id):
        return subprocess.Popen(command, cwd=tmp_path, env=dict(env, KERASTUNER_TUNER_ID=tuner_id),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    chief = start("chief")
    workers = [start("worker0"), start("worker1")]
    try:
        outputs = {name: p.communicate(timeout=240)[0] for name, p in zip(("worker0", "worker1", "chief"), [*workers, chief])}
    finally:
        for p in (chief, *workers):
            p.kill()
    for name, p in zip(("worker0", "worker1", "chief"), [*workers, chief]):
        assert p.returncode == 0, f"{name}: {outputs[name][-2000:]}"
    [directory] = (tmp_path / "saved_models" / "adding" / "sweeps").iterdir()
    with open(directory / "trial_log.csv") as f:
        log = list(csv.DictReader(f))
    ran = [row["trial"] for row in log]
    assert sorted(ran) == sorted(set(ran)) and len(ran) == 3  # three trials, none twice
    assert {row["tuner"] for row in log} <= {"worker0", "worker1"}  # the chief only serves
    assert len(_trials(directory)) == 3 and json.loads((directory / "summary.json").read_text())["completed_trials"] == 3
    for name in ("worker0", "worker1"):
        assert f"worker {name}: ran {sum(row['tuner'] == name for row in log)} trials" in outputs[name]


@pytest.mark.parametrize("env,message", [
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1"}, "needs both KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT"),
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "http"}, "expected a port number"),
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}, "needs KERASTUNER_TUNER_ID"),
])
def test_bad_distributed_settings_are_one_line(env, message, tmp_path, capsys, monkeypatch):
    for key in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "adding", "--quick", "--max-trials", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "saved_models").exists()


def test_a_worker_cannot_start_the_sweep_over(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker3")
    monkeypatch.chdir(tmp_path)
    assert main(["tune", "adding", "--quick", "--max-trials", "1", "--fresh"]) == 2
    assert "only the chief" in capsys.readouterr().err


def _trial_history(directory, number=0):
    from keras_recurrent.pipelines.callbacks import read_history

    trials = sorted(d for d in os.listdir(directory) if d.startswith("trial_"))
    return read_history(os.path.join(directory, trials[number], "history.csv"))


@pytest.mark.parametrize("task, rate", [("sentiment", "0.002"), ("babi", "0.16")])
def test_a_trial_trains_as_the_run_of_its_config_does(task, rate, tmp_path):
    # One trial with fixed values, then `train --config` of the best config it wrote: one training
    # procedure, so the same history epoch for epoch (bAbI's linear start and rate schedule included).
    summary = pipelines.tune(task, tuner="grid", max_trials=1, quick=True, quiet=True, epochs=3,
                             space=[f"train.learning_rate={rate}"], root=str(tmp_path / "sweeps"))
    trial = _trial_history(os.path.dirname(summary["best_config"]))
    run = pipelines.train(task, config=summary["best_config"], quiet=True, run_dir=str(tmp_path / "run"))
    from keras_recurrent.pipelines.callbacks import read_history

    history = read_history(os.path.join(run.path, "history.csv"))
    assert len(history) == len(trial) == 3
    for ours, theirs in zip(trial, history):
        assert set(ours) == set(theirs)
        for key in ours:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6, abs=1e-9), (key, ours["epoch"])
    # The objective is the validation loss of the epoch the run kept.
    kept = run.metrics.get("best_epoch", len(history)) - 1
    assert summary["best_value"] == pytest.approx(history[kept]["val_loss"], rel=1e-6)


def test_median_pruning_stops_a_trial_worse_than_the_finished_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Two good rates run to their end; the third (a rate that barely moves) is worse than their median
    # after its first epoch and is stopped there.
    assert main(["tune", "adding", "--quick", "--tuner", "grid", "--epochs", "3", "--set", "train.patience=0",
                 "--space", "train.learning_rate=0.01,0.02,0.0000001", "--max-trials", "3", "--prune", "median"]
                + ["--quiet"]) == 0
    best = capsys.readouterr().out.strip().splitlines()[-1]
    directory = os.path.dirname(best)
    rows = _trials(directory)
    assert [r["pruned_after_epoch"] for r in rows] == ["", "", "1"]
    assert [len(_trial_history(directory, i)) for i in range(3)] == [3, 3, 1]
    assert main(["tune", "adding", "--quick", "--prune", "mean"]) == 2
    assert "--prune 'mean': expected one of median" in capsys.readouterr().err

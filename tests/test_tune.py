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
def test_every_task_tunes_its_default_space(task, tmp_path):
    summary = pipelines.tune(task, max_trials=2, quick=True, quiet=True, root=str(tmp_path))
    directory = os.path.dirname(summary["best_config"])
    assert summary["completed_trials"] == 2 and len(_trials(directory)) == 2
    assert set(summary["best_values"]) == set(get_task(task).tunable)
    assert os.path.isfile(os.path.join(directory, "plots", "trials.png"))
    assert summary["best_value"] == min(float(r["val_loss"]) for r in _trials(directory))


def test_resume_never_reruns_a_trial_and_best_config_trains(tmp_path, capsys):
    root = str(tmp_path)
    space = ["--space", "model.units=8,16", "--space", "train.learning_rate=1e-3:1e-2:log"]
    args = ["tune", "sentiment", "--quick", "--max-trials", "2", *space]
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
    runs = [d for d in os.listdir(os.path.join(root, "saved_models", "sentiment")) if d.startswith("bigru-")]
    assert len(runs) == 1  # --retrain-best made an ordinary run directory
    assert main(["tune", "sentiment", "--quick", "--max-trials", "3", *space, "--fresh", "--quiet"]) == 0
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

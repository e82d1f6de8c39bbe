"""The NTM paper's copy and associative recall tasks: their sequences, their metric, and their runs."""

import json
import os
import shutil

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.memory import BitErrors
from keras_recurrent.tasks.memory import sequences as seq


def test_copy_sequence_layout():
    inputs, targets, weights = seq.copy_example(np.random.default_rng(0), 3, 4)
    assert inputs.shape == (7, 6) and targets.shape == (7, 4)
    np.testing.assert_array_equal(targets[4:], inputs[:3, :4])  # written back after the delimiter
    assert inputs[3].tolist() == [0, 0, 0, 0, 1, 0] and not inputs[4:].any()
    assert weights.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert get_task("copy").size_of(inputs, get_task("copy").DataConfig(bits=4)) == 3


def test_recall_sequence_layout():
    rng = np.random.default_rng(1)
    for _ in range(20):
        items, length, bits = int(rng.integers(2, 6)), 3, 5
        inputs, targets, weights = seq.recall_example(rng, items, bits, length)
        block = length + 1
        stored = [inputs[i * block + 1:(i + 1) * block, :bits] for i in range(items)]
        start = items * block
        query = inputs[start + 1:start + 1 + length, :bits]
        (index,) = [i for i, item in enumerate(stored[:-1]) if np.array_equal(item, query)][:1] or [None]
        assert index is not None and inputs[start, bits + 1] == 1 and inputs[start + 1 + length, bits + 1] == 1
        np.testing.assert_array_equal(targets[weights > 0], stored[index + 1])
        assert inputs[:, bits].sum() == items and weights.sum() == length


def test_bit_errors_metric_matches_numpy():
    rng = np.random.default_rng(2)
    outputs = rng.random((6, 9, 4)).astype("float32")
    targets = rng.integers(0, 2, (6, 9, 4)).astype("float32")
    weights = (rng.random((6, 9)) > 0.5).astype("float32")
    metric = BitErrors()
    metric.update_state(targets[:3], outputs[:3], sample_weight=weights[:3])
    metric.update_state(targets[3:], outputs[3:], sample_weight=weights[3:])
    expected = seq.bit_errors(outputs, targets, weights)
    assert float(metric.result()) == pytest.approx(expected.mean())
    assert expected.tolist() == [float(((outputs[i] > 0.5) != targets[i].astype(bool))[weights[i] > 0].sum()) for i in range(6)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory-runs")
    return {name: verbs.train(name, quick=True, quiet=True, run_dir=str(root / name))
            for name in ("copy", "associative_recall")}


def test_copy_runs_scores_and_evaluates_longer_sequences(runs):
    run = runs["copy"]
    metrics = run.metrics
    assert set(metrics["bit_errors_by_length"]) == {"1", "2", "3", "4"}
    assert metrics["baselines"]["chance"]["bit_errors_per_sequence"] > 0
    line = verbs.summary_line(metrics, get_task("copy").headline)
    assert line.startswith("bit_errors_per_sequence=") and "baseline[chance]=" in line  # showed no baseline before
    assert {"example.png", "errors_by_size.png", "learning_curves.png"} <= set(os.listdir(os.path.join(run.path, "plots")))
    # The learning curve's metric counts the answer's steps only: it equals the errors on the validation
    # split recomputed from the saved model.
    from keras_recurrent.pipelines.callbacks import read_history

    (last,) = read_history(os.path.join(run.path, "history.csv"))
    task, config, info, model = verbs.load_run(run.path)
    data = task.load(config.data_spec, config.data, config.train.seed)
    inputs, targets, weights = (np.stack(a) for a in zip(*data.validation.as_numpy_iterator()))
    recomputed = seq.bit_errors(model.predict(inputs, verbose=0), targets, weights).mean()
    assert float(last["val_bit_errors"]) == pytest.approx(recomputed, rel=1e-5)
    longer = verbs.evaluate(run.path, set=["data.min_length=9", "data.max_length=9"], quiet=True)
    assert set(longer["bit_errors_by_length"]) == {"9"}
    assert json.load(open(os.path.join(run.path, "metrics.json")))["bit_errors_by_length"] == metrics["bit_errors_by_length"]
    with pytest.raises(UserError, match="data.bits=5"):
        verbs.evaluate(run.path, set=["data.bits=5"], quiet=True)


def test_xla_is_used_and_reproducible(runs, tmp_path):
    # The memory tasks train with XLA by default (quick runs excepted). TensorFlow refuses XLA while op
    # determinism is on, and says so only in a warning, so such a run turns determinism off.
    from keras_recurrent.pipelines import config as cfg
    from keras_recurrent.pipelines import fitting

    task = get_task("copy")
    config = cfg.resolve_config(task, quick=True, overrides=["train.xla=true"])
    data, model = fitting.prepare(task, config)
    assert model.jit_compile
    batches = data.train.batch(8).take(2)
    model.fit(batches, verbose=0)  # builds the optimizer; then the same compiled step trains twice from one start
    start = [w.numpy() for w in model.weights], [v.numpy() for v in model.optimizer.variables]
    trained = []
    for _ in range(2):
        for variable, value in zip(model.weights + model.optimizer.variables, start[0] + start[1]):
            variable.assign(value)
        model.fit(batches, verbose=0)
        trained.append(model.get_weights())
    # XLA's CPU kernels must give the same weights without determinism's guard.
    for a, b in zip(*trained):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(trained[0], start[0]))
    # Loading a run sets it again: the saved compile settings lose it.
    copied = shutil.copytree(runs["copy"].path, tmp_path / "copied")
    saved = json.load(open(copied / "config.json"))
    saved["train"]["xla"] = True
    json.dump(saved, open(copied / "config.json", "w"))
    assert verbs.load_run(str(copied))[3].jit_compile
    assert not verbs.load_run(runs["copy"].path)[3].jit_compile


def test_predict_copies_and_recalls(runs, capsys):
    assert main(["predict", runs["copy"].path, "10110011 01010101", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(row["copy"].split()) == 2 and 0 <= row["errors"] <= 16
    query = "101010 111111 000111 | 111000 111000 111000 | 000000 111111 000000 ? 111000 111000 111000"
    assert main(["predict", runs["associative_recall"].path, query, "--json"]) == 0
    recalled = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recalled"]
    assert len(recalled.split()) == 3 and all(len(v) == 6 for v in recalled.split())


@pytest.mark.parametrize("task,text,message", [
    ("copy", "1011001 01010101", "not a vector of 8 bits"),
    ("copy", "10110012", "not a vector of 8 bits"),
    ("associative_recall", "101010 | 111111", "'?'"),
    ("associative_recall", "101010 111111 | 111000 ? 101010", "same number of vectors"),
])
def test_bad_predict_input_is_one_line(runs, capsys, task, text, message):
    assert main(["predict", runs[task].path, text]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_bad_lengths_are_refused():
    assert main(["train", "copy", "--quick", "--set", "data.min_length=5", "--set", "data.max_length=3"]) == 2
    assert main(["train", "associative_recall", "--quick", "--set", "data.min_items=1"]) == 2

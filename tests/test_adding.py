"""The adding problem: data as documented, baselines, gradient reach, a gated model that learns it."""

import numpy as np
import pytest

from keras_recurrent import pipelines
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.adding import generate, gradient_reach


def test_generated_data_follows_the_definition():
    inputs, targets = generate(500, 20, seed=0)
    assert inputs.shape == (500, 20, 2) and targets.shape == (500, 1)
    markers = inputs[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose((inputs[..., 0] * markers).sum(axis=1), targets[:, 0], rtol=1e-6)
    assert np.mean((1.0 - targets) ** 2) == pytest.approx(1 / 6, abs=0.03)


def test_training_opens_the_lstm_gates_but_the_simple_rnn_gradient_still_fades(tmp_path):
    """After the same four epochs on sequences of 40, the gradient from the last step reaches the first
    step of the LSTM about 10^4 times stronger than the SimpleRNN's (3e3 vs 3e7-3e8 fade measured on
    seeds 1 and 2). At initialisation both fade alike; the gates' advantage is that training opens them."""
    from keras_recurrent.pipelines.verbs import load_run

    inputs, targets = generate(64, 40, seed=0)
    fade = {}
    for name in ("simple_rnn", "lstm"):
        run = pipelines.train("adding", model=name, run_dir=str(tmp_path / name), epochs=4, quiet=True, seed=1,
                              set=["data.length=40", "data.num_examples=2000", "model.units=16",
                                   "train.learning_rate=0.01", "train.patience=0"])
        curve = gradient_reach(load_run(run.path)[3], inputs, targets)
        fade[name] = curve[-1] / curve[0]
    assert fade["simple_rnn"] > 1e5 and fade["lstm"] * 1e3 < fade["simple_rnn"], fade


def test_lstm_solves_a_short_adding_problem(tmp_path):
    run = pipelines.train("adding", model="lstm", run_dir=str(tmp_path / "r"), epochs=8, quiet=True,
                          set=["data.length=10", "data.num_examples=3000", "model.units=32", "train.learning_rate=0.005"])
    assert run.metrics["test_mse"] < 0.1 * run.metrics["baselines"]["always_one_mse"]
    assert (tmp_path / "r" / "plots" / "gradient_reach.png").is_file()
    (row,) = pipelines.predict(run.path, ["0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.5;1,8"])
    assert row["true_sum"] == pytest.approx(1.1) and abs(row["sum"] - 1.1) < 0.2


def test_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="generates its own data"):
        get_task("adding").load("some.csv", get_task("adding").DataConfig(), 0)
    run = pipelines.train("adding", run_dir=str(tmp_path / "q"), quick=True, quiet=True)
    with pytest.raises(UserError, match="expected 'v1,v2,...;i,j'"):
        pipelines.predict(run.path, ["nonsense"])
    with pytest.raises(UserError, match="need 12 values"):
        pipelines.predict(run.path, ["0.1,0.2;0,1"])

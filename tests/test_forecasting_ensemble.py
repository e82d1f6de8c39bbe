"""Seed ensembles (`model.members`): members trained each on its own loss inside one model, averaged in
inference, saved, reloaded and exported as one graph; for one series and for a collection."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_recurrent.layers.ensemble import MemberLoss, MemberMean, ensemble_mae
from keras_recurrent.pipelines.cli import main
from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.tasks import get_task

TASK = get_task("forecasting")


def _two_members():
    x = keras.Input((3,))
    members = [keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name=f"m{i}") for i in range(2)]
    return keras.Model(x, MemberMean()([m(x) for m in members])), members


def _gradients(model, member, x, y, loss):
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=True))
    return [g.numpy() for g in tape.gradient(value, member.trainable_weights)]


def test_each_member_learns_from_its_own_errors_and_inference_is_their_mean():
    keras.utils.set_random_seed(0)
    model, (first, second) = _two_members()
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    mse = keras.losses.MeanSquaredError()
    loss = MemberLoss(mse, output_rank=2)
    assert model(x, training=True).shape == (16, 2, 2)
    np.testing.assert_allclose(model(x), (first(x) + second(x)) / 2, rtol=1e-6)
    # The first member's gradient is that of its own loss (halved), whatever the second member does.
    with tf.GradientTape() as tape:
        alone = mse(y, first(x)) / 2
    expected = [g.numpy() for g in tape.gradient(alone, first.trainable_weights)]
    before = _gradients(model, first, x, y, loss)
    for got, want in zip(before, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    second.set_weights([w + 5.0 for w in second.get_weights()])
    for got, want in zip(_gradients(model, first, x, y, loss), before):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # One output (validation, evaluation) is scored by the wrapped loss itself.
    assert float(loss(y, model(x))) == pytest.approx(float(mse(y, model(x))), rel=1e-6)
    # The training metric reads a stack as the forecast it stands for.
    metric = ensemble_mae(output_rank=2)
    metric.update_state(y, model(x, training=True))
    assert float(metric.result()) == pytest.approx(float(np.abs(y - model(x)).mean()), rel=1e-5)
    # Round trip of the loss's configuration.
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, MemberLoss) and again.output_rank == 2 and isinstance(again.loss, type(mse))


def test_a_forecasting_ensemble_trains_saves_and_exports_as_one_model(tmp_path):
    from keras_recurrent.pipelines import exporting as ex

    keras.utils.set_random_seed(0)
    config = resolve_config(TASK, model="gru", quick=True, overrides=["model.members=2",
                                                                      "model.quantiles=0.1,0.5,0.9"])
    data = TASK.load("generated:240", config.data, 0)
    model = TASK.models.build("gru", config.model, data.info)
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(members) == 2 and data.info["members"] == 2
    kernels = [m.get_layer("horizon").get_weights()[0] for m in members]
    assert not np.allclose(kernels[0], kernels[1])  # different initial weights
    compiled = TASK.compile(data.info)
    model.compile(optimizer="adam", loss=compiled.loss, metrics=compiled.metrics)
    history = model.fit(data.train.batch(32), validation_data=data.validation.batch(32), epochs=1, verbose=0)
    assert np.isfinite(history.history["val_loss"][0])
    inputs = ex._real_inputs(data.test, 8)
    forecast = TASK.forecast(model, inputs)
    assert forecast.shape == (8, 3, 1, 3)
    np.testing.assert_allclose(forecast, np.mean([m.predict(inputs, verbose=0) for m in members], axis=0),
                               rtol=1e-5, atol=1e-5)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.testing.assert_allclose(TASK.forecast(keras.saving.load_model(path), inputs), forecast, rtol=1e-6)
    lite = ex._export_tflite(TASK, model, data.info, inputs, str(tmp_path), "none", None)
    assert lite["max_abs_diff"] <= ex.TFLITE_TOLERANCE * np.abs(forecast).max()


def test_a_collection_trains_an_ensemble_through_the_command_line(tmp_path, monkeypatch):
    import json

    import pandas as pd

    monkeypatch.setenv("KERAS_RECURRENT_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    path = tmp_path / "shops.csv"
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "month", "sales"])
        for i in range(4):
            for stamp in pd.date_range("2000-01-01", periods=40, freq="MS"):
                out.writerow([f"s{i}", stamp.date().isoformat(), round(10 * (i + 1) + rng.normal(), 3)])
    run = str(tmp_path / "run")
    assert main(["train", "forecasting", "--data", str(path), "--run-dir", run, "--quick", "--quiet",
                 "--set", "data.id_column=id", "--set", "data.horizon=4", "--set", "model.members=2"]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["series"] == 4 and np.isfinite(metrics["network"]["smape"])
    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    assert sum(isinstance(layer, keras.Model) for layer in model.layers) == 2

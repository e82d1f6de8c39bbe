"""Run-level behaviour through the Python API: reproducibility, resume, and run-directory safety."""

import json
import os

import keras
import numpy as np
import pytest

from keras_recurrent import pipelines
from keras_recurrent.pipelines.callbacks import read_history
from keras_recurrent.tasks import UserError

# Small but not trivial: dropout on, three epochs, so order and RNG both matter to the result.
SMALL = dict(quick=True, epochs=3, quiet=True, set=["model.dropout=0.3"])


def metrics_of(run):
    return {k: v for k, v in run.metrics.items() if k != "train_seconds_this_process"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One finished SMALL run (seed 7), shared by the tests that only read it or train beside it."""
    return pipelines.train("sentiment", run_dir=str(tmp_path_factory.mktemp("small") / "r"), seed=7, **SMALL)


def test_same_seed_same_metrics(tmp_path, small_run):
    a = small_run
    b = pipelines.train("sentiment", run_dir=str(tmp_path / "b"), seed=7, **SMALL)
    assert metrics_of(a) == metrics_of(b)
    assert read_history(os.path.join(a.path, "history.csv")) == read_history(os.path.join(b.path, "history.csv"))
    for name in ("config.json", "data_info.json", "environment.json", "history.csv", "metrics.json", "model.keras",
                 "plots/learning_curves.png", "plots/confusion_matrix.png"):
        assert os.path.isfile(os.path.join(a.path, name)), name
    assert os.path.isdir(os.path.join(a.path, "tensorboard"))
    assert not os.path.exists(os.path.join(a.path, "backup"))  # removed once training finished


def test_epoch_order_depends_only_on_seed_and_epoch():
    import tensorflow as tf

    from keras_recurrent.pipelines.callbacks import epoch_shuffled

    epoch = tf.Variable(0, dtype=tf.int64)
    data = epoch_shuffled(tf.data.Dataset.range(20), seed=0, epoch_variable=epoch)  # seed 0 included
    orders = []
    for e in (0, 1, 0):
        epoch.assign(e)
        orders.append([int(x) for x in data])
    assert orders[0] == orders[2] != orders[1]
    assert sorted(orders[0]) == list(range(20))


class InterruptAfter(keras.callbacks.Callback):
    """Ctrl-C right after an epoch's backup was written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_metrics(tmp_path, small_run):
    reference = small_run
    target = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", run_dir=target, seed=7, callbacks=[InterruptAfter(1)], **SMALL)
    assert os.path.isfile(os.path.join(target, "backup", "training_metadata.json"))
    assert not os.path.exists(os.path.join(target, "metrics.json"))
    resumed = pipelines.train("sentiment", run_dir=target, seed=7, **SMALL)
    assert resumed.resumed_from_epoch == 2
    assert metrics_of(resumed) == metrics_of(reference)
    assert read_history(os.path.join(target, "history.csv")) == read_history(os.path.join(reference.path, "history.csv"))


def test_default_run_name_resumes_and_finished_runs_are_kept(tmp_path):
    root = str(tmp_path / "saved")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", root=root, seed=4, callbacks=[InterruptAfter(0)], **SMALL)
    (unfinished,) = os.listdir(os.path.join(root, "sentiment"))
    assert unfinished.startswith("bigru-")
    run = pipelines.train("sentiment", root=root, seed=4, **SMALL)
    assert os.path.basename(run.path) == unfinished and run.resumed_from_epoch == 1
    assert os.path.realpath(os.path.join(root, "sentiment", "latest")) == os.path.realpath(run.path)
    before = os.stat(os.path.join(run.path, "model.keras")).st_mtime_ns
    again = pipelines.train("sentiment", root=root, seed=4, **SMALL)
    assert again.already_finished and again.metrics == run.metrics
    assert os.stat(os.path.join(run.path, "model.keras")).st_mtime_ns == before


def test_run_dir_with_another_config_is_refused(small_run):
    run = small_run
    saved = open(os.path.join(run.path, "metrics.json")).read()
    with pytest.raises(UserError, match="different config \\(train.seed differ\\)"):
        pipelines.train("sentiment", run_dir=run.path, seed=6, **SMALL)
    assert open(os.path.join(run.path, "metrics.json")).read() == saved


def test_foreign_directory_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a run directory"):
        pipelines.train("sentiment", run_dir=str(tmp_path / "mine"), **SMALL)


def test_evaluate_and_predict(small_run):
    run = small_run
    assert metrics_of(run)["accuracy"] == pytest.approx(pipelines.evaluate(run.path, quiet=True)["accuracy"])
    rows = pipelines.predict(run.path, ["the plot was not good", "a truly wonderful film"])
    assert [r["text"] for r in rows] == ["the plot was not good", "a truly wonderful film"]
    assert all(r["label"] in ("negative", "positive") and 0.5 <= r["probability"] <= 1 for r in rows)
    info = json.load(open(os.path.join(run.path, "data_info.json")))
    assert info["vocabulary"][:2] == ["", "[UNK]"]


def test_evaluate_needs_a_finished_run(tmp_path):
    with pytest.raises(UserError, match="no such run directory"):
        pipelines.evaluate(str(tmp_path / "nothing"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="not a finished run"):
        pipelines.predict(str(tmp_path / "half"), ["x"])


# Early stopping on by default: patience 2 at a high learning rate stops this run after 4 of 12 epochs.
# The corpus at data.negation=0.5 learns slowly enough that the best epoch comes after the first and the
# run stops well before 12: interruptions land before the best epoch, between it and the stop, and at the stop.
STOPPING = dict(quick=True, epochs=12, quiet=True,
                set=["train.learning_rate=0.03", "train.patience=2", "model.dropout=0.3", "data.negation=0.5"])


@pytest.fixture(scope="module")
def stopping_run(tmp_path_factory):
    """One uninterrupted early-stopping run: the reference every resumed one must reproduce."""
    return pipelines.train("sentiment", run_dir=str(tmp_path_factory.mktemp("stopping") / "ref"), seed=3, **STOPPING)


def test_early_stopping_keeps_the_best_epoch(stopping_run):
    run = stopping_run
    history = read_history(os.path.join(run.path, "history.csv"))
    losses = [row["val_loss"] for row in history]
    assert len(history) < 12 and run.metrics["epochs_trained"] == len(history)
    assert run.metrics["best_epoch"] == losses.index(min(losses)) + 1 < len(history)  # not the last epoch
    assert len(history) - run.metrics["best_epoch"] == 2  # stopped after `patience` epochs without improvement
    assert not os.path.exists(os.path.join(run.path, "best"))
    # The saved model is the best epoch's: its validation loss is the lowest in the history.
    from keras_recurrent.pipelines.verbs import load_run

    task, config, info, model = load_run(run.path)
    data = task.load(config.data_spec, config.data, config.train.seed)
    loss = model.evaluate(data.validation.batch(config.train.batch_size), verbose=0)[0]
    assert loss == pytest.approx(min(losses), abs=1e-5)


@pytest.mark.parametrize("interrupt_after", [0, 2, "stopping epoch"])
def test_interrupted_run_with_early_stopping_resumes_exactly(tmp_path, interrupt_after, stopping_run):
    """Resumed before and after the best epoch, or right after the epoch that ran out of patience (no
    epoch may run again), the run stops at the same epoch with the same weights."""
    reference = stopping_run
    assert 1 < reference.metrics["best_epoch"] and reference.metrics["epochs_trained"] > 3  # the scenario holds
    stopping = interrupt_after == "stopping epoch"
    if stopping:
        interrupt_after = reference.metrics["epochs_trained"] - 1
    target = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", run_dir=target, seed=3, callbacks=[InterruptAfter(interrupt_after)], **STOPPING)
    resumed = pipelines.train("sentiment", run_dir=target, seed=3, **STOPPING)
    assert resumed.resumed_from_epoch == (0 if stopping else interrupt_after + 1)  # 0: no epoch ran
    assert metrics_of(resumed) == metrics_of(reference)
    assert read_history(os.path.join(target, "history.csv")) == read_history(os.path.join(reference.path, "history.csv"))


def test_resumed_after_the_last_epochs_backup_still_ends_with_the_best_weights(tmp_path):
    """Killed after the last epoch's backup: the resumed process runs no epoch, yet restores the best one."""
    settings = dict(STOPPING, set=STOPPING["set"] + ["train.patience=0"], epochs=4)
    reference = pipelines.train("sentiment", run_dir=str(tmp_path / "ref"), seed=3, **settings)
    assert reference.metrics["best_epoch"] < 4  # the best is not the last epoch, so restoring matters
    target = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", run_dir=target, seed=3, callbacks=[InterruptAfter(3)], **settings)
    resumed = pipelines.train("sentiment", run_dir=target, seed=3, **settings)
    assert resumed.resumed_from_epoch == 0 and metrics_of(resumed) == metrics_of(reference)


def test_keep_best_off_keeps_the_last_epoch(tmp_path):
    run = pipelines.train("sentiment", run_dir=str(tmp_path / "r"), seed=3,
                          **{**STOPPING, "set": STOPPING["set"] + ["train.keep_best=false"]})
    assert "best_epoch" not in run.metrics and run.metrics["epochs_trained"] < 12


def test_another_seed_gives_another_run(tmp_path, monkeypatch):
    """The seed reaches every use: the data split, the initial weights and the training order."""
    from keras_recurrent.tasks.sentiment import SentimentTask

    seen, initial = [], {}
    original_load = SentimentTask.load
    monkeypatch.setattr(SentimentTask, "load", lambda self, spec, config, seed: seen.append(seed) or
                        original_load(self, spec, config, seed))

    class InitialWeights(keras.callbacks.Callback):
        def __init__(self, seed):
            super().__init__()
            self.seed = seed

        def on_train_begin(self, logs=None):
            initial[self.seed] = [np.array(w) for w in self.model.get_weights()]

    runs = {seed: pipelines.train("sentiment", run_dir=str(tmp_path / str(seed)), seed=seed,
                                  callbacks=[InitialWeights(seed)], **SMALL) for seed in (11, 12)}
    assert seen == [11, 12]
    assert any(not np.array_equal(a, b) for a, b in zip(initial[11], initial[12]))
    histories = [read_history(os.path.join(run.path, "history.csv")) for run in runs.values()]
    assert histories[0] != histories[1]


def test_interrupted_custom_layer_run_with_dropout_resumes_exactly(tmp_path):
    """SRU++'s dropout draws from its own seed generator; resuming must replay the same masks."""
    settings = dict(model="srupp", seed=4, quick=True, epochs=2, quiet=True, set=["model.dropout=0.3"])
    reference = pipelines.train("sentiment", run_dir=str(tmp_path / "ref"), **settings)
    target = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", run_dir=target, callbacks=[InterruptAfter(0)], **settings)
    resumed = pipelines.train("sentiment", run_dir=target, **settings)
    assert resumed.resumed_from_epoch == 1
    assert metrics_of(resumed) == metrics_of(reference)


@pytest.mark.parametrize("name,cls", [("adamw", "AdamW"), ("rmsprop", "RMSprop"), ("sgd", "SGD"), ("adam", "Adam")])
def test_every_optimizer_gets_its_settings(name, cls):
    from keras_recurrent.pipelines.fitting import make_optimizer
    from keras_recurrent.tasks import TrainConfig

    optimizer = make_optimizer(TrainConfig(optimizer=name, learning_rate=0.02, clipnorm=0.5, weight_decay=0.1))
    assert type(optimizer).__name__ == cls
    assert float(optimizer.learning_rate) == pytest.approx(0.02) and optimizer.clipnorm == 0.5
    if name == "adamw":
        assert optimizer.weight_decay == pytest.approx(0.1)
    assert make_optimizer(TrainConfig(optimizer=name, clipnorm=0.0)).clipnorm is None  # 0 disables clipping


def test_best_epoch_ignores_warmup_epochs(tmp_path):
    """Epochs before `start_epoch` (a task's warm-up schedule) neither become the best nor use up
    patience: here they hold the lowest losses, and without start_epoch the run would stop at epoch 2."""
    from keras_recurrent.pipelines.callbacks import BestEpoch

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    losses = [0.1, 0.1, 0.1, 0.5, 0.4, 0.6, 0.7]
    stopped_at = {}
    for start in (0, 3):
        callback = BestEpoch(str(tmp_path / f"h{start}.csv"), str(tmp_path / f"best{start}"), patience=2,
                             start_epoch=start)
        callback.set_model(model)
        model.stop_training = False
        for epoch, loss in enumerate(losses):
            callback.on_epoch_begin(epoch)
            callback.on_epoch_end(epoch, {"val_loss": loss})
            if model.stop_training:
                break
        stopped_at[start] = (epoch, callback.best_epoch)
    assert stopped_at[0] == (2, 0)
    assert stopped_at[3] == (6, 4)


def test_the_train_step_is_traced_once(tmp_path, monkeypatch):
    """The optimizer and metric variables exist before `fit` traces its step, so TensorFlow traces the
    step once, not twice (a step that creates variables is traced again without creating them)."""
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    traced = []
    train_step = TensorFlowTrainer.train_step
    monkeypatch.setattr(TensorFlowTrainer, "train_step", lambda self, data: traced.append(1) or train_step(self, data))
    run = pipelines.train("adding", run_dir=str(tmp_path / "r"), quick=True, quiet=True, epochs=2)
    assert run.metrics["epochs_trained"] == 2 and len(traced) == 1

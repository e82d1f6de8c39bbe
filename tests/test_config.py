"""Config resolution: defaults, then --quick, then a config file, then --set, then flags."""

import json

import pytest

from keras_recurrent.pipelines.config import coerce, config_from_dict, resolve_config, with_overrides
from keras_recurrent.tasks import UserError, get_task, task_names


@pytest.fixture(scope="module")
def task():
    return get_task("sentiment")


def test_defaults(task):
    config = resolve_config(task)
    assert config.model_name == "bigru"
    assert config.train.clipnorm == 1.0  # gradient clipping is on by default
    assert config.data_spec is None
    assert config.train.epochs == 10 and config.model.units == 64  # not --quick's one epoch and 8 units


def test_describe_fields_carries_defaults_and_help(task):
    from keras_recurrent.pipelines.config import describe_fields

    fields = {name: (default, help) for name, default, help in describe_fields(resolve_config(task).train)}
    assert fields["epochs"][0] == 10 and fields["epochs"][1] == "passes over the training split"


def test_order_file_then_set_then_flags(task, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model_name": "lstm", "train": {"epochs": 4, "batch_size": 8}, "model": {"units": 7}}))
    config = resolve_config(task, config_file=str(path), overrides=["train.epochs=6", "model.dropout=0.5"], epochs=9)
    assert (config.model_name, config.train.epochs, config.train.batch_size) == ("lstm", 9, 8)
    assert (config.model.units, config.model.dropout) == (7, 0.5)


def test_toml_config(task, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nunits = 12\n[data]\nencoding = "cp1252"\n')
    config = resolve_config(task, config_file=str(path))
    assert config.model.units == 12 and config.data.encoding == "cp1252"


def test_quick_applies_before_set(task):
    config = resolve_config(task, quick=True, overrides=["model.units=5"])
    assert config.train.epochs == 1 and config.model.units == 5


def test_round_trip_through_dict(task):
    config = resolve_config(task, overrides=["model.units=33", "data.encoding=cp1252"], model="gru")
    assert config_from_dict(task, json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochs=abc", "train.epochs='abc': expected an integer"),
        ("train.epochs=0", "train.epochs=0: must be at least 1"),
        ("model.dropout=1.5", "model.dropout=1.5: must be at most 0.95"),
        ("model.colour=red", "model.colour: unknown key"),
        ("nosection=1", "nosection: unknown key"),
        ("train=5", "train: unknown key; use section.field"),
        ("train.optimizer=adagrad", "expected one of adam"),
        ("train.learning_rate=0", "must be greater than 0"),
        ("novalue", "expected key=value"),
    ],
)
def test_bad_overrides(task, override, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_config(task, overrides=[override])


def test_bad_config_file(task, tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        resolve_config(task, config_file=str(path))
    for unknown in ("optimiser", "zoo"):  # before and after "task" (a saved config's own key) in sort order
        path.write_text(json.dumps({unknown: {}}))
        with pytest.raises(UserError, match=f"unknown key '{unknown}'"):
            resolve_config(task, config_file=str(path))
    path.write_text(json.dumps({"task": "adding", "model": {"units": 3}}))  # a run's config.json names its task
    assert resolve_config(task, config_file=str(path)).model.units == 3
    with pytest.raises(UserError, match="no such file"):
        resolve_config(task, config_file=str(tmp_path / "missing.json"))


def test_unknown_model(task):
    with pytest.raises(UserError, match="unknown model 'transformer'.*bigru"):
        resolve_config(task, model="transformer")


def test_coerce():
    assert coerce("3", int, "k") == 3 and coerce(2.0, int, "k") == 2
    assert coerce("1e-3", float, "k") == 0.001
    assert coerce("yes", bool, "k") is True and coerce("off", bool, "k") is False
    for value, to in ((True, int), ("2.5", int), ("x", float), ("maybe", bool), ({}, str)):
        with pytest.raises(UserError):
            coerce(value, to, "k")


def test_file_specs_become_absolute(task, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config(task, data="reviews.csv").data_spec == str(tmp_path / "reviews.csv")
    assert resolve_config(task, data="tfds:imdb_reviews").data_spec == "tfds:imdb_reviews"
    # Sources named by a scheme or a bare word are not paths.
    for spec in ("statsmodels:co2", "generated:500", "generated"):
        assert resolve_config(task, data=spec).data_spec == spec
    (tmp_path / "generated").write_text("t,y\n")  # a file of that name in the working directory wins
    assert resolve_config(task, data="generated").data_spec == str(tmp_path / "generated")


def test_with_overrides_copies_applies_and_validates(task):
    base = resolve_config(task, overrides=["model.units=8"])
    trial = with_overrides(task, base, [("model.units", 32), ("train.learning_rate", "0.01")], "trial")
    assert (trial.model.units, trial.train.learning_rate) == (32, 0.01)
    assert base.model.units == 8 and base.train.learning_rate == 3e-3  # the base is untouched
    with pytest.raises(UserError, match="model.dropout=2.0: must be at most 0.95"):
        with_overrides(task, base, [("model.dropout", 2.0)], "trial")


def test_settings_are_keywords_only(task):
    with pytest.raises(TypeError):
        resolve_config(task, "lstm")  # a positional model name would be too easy to misplace


def test_a_model_can_have_training_defaults_of_its_own(tmp_path):
    """bAbI: the memory network trains with the authors' SGD and spectral clipping, the LSTM baseline keeps
    Adam; the model named on the command line or in a config file decides, and --set still wins."""
    from keras_recurrent.tasks import get_task

    babi = get_task("babi")
    memn2n = resolve_config(babi)
    assert (memn2n.train.optimizer, memn2n.train.clip, memn2n.train.learning_rate) == ("sgd", "spectral", 0.16)
    lstm = resolve_config(babi, model="lstm")
    assert (lstm.train.optimizer, lstm.train.clip, lstm.train.learning_rate, lstm.train.patience) == ("adam", "norm", 5e-3, 15)
    path = tmp_path / "c.json"
    path.write_text('{"model_name": "lstm"}')
    assert resolve_config(babi, config_file=str(path)).train.optimizer == "adam"
    assert resolve_config(babi, model="lstm", overrides=["train.optimizer=sgd"]).train.optimizer == "sgd"


def test_spectral_clipping_bounds_each_matrix_by_its_largest_singular_value():
    import numpy as np

    from keras_recurrent.pipelines.optimizers import clip_spectral

    rng = np.random.default_rng(0)
    stacked = rng.normal(size=(3, 7, 4)).astype("float32")
    stacked[1] *= 1e-3  # already small: left alone
    clipped = np.asarray(clip_spectral(stacked, 2.0))
    for original, got in zip(stacked, clipped):
        top = np.linalg.svd(original, compute_uv=False)[0]
        np.testing.assert_allclose(got, original * min(1.0, 2.0 / top), rtol=1e-5)
        assert np.linalg.svd(got, compute_uv=False)[0] <= 2.0 + 1e-4
    vector = np.full(9, 3.0, "float32")  # Euclidean norm 9
    np.testing.assert_allclose(np.asarray(clip_spectral(vector, 4.5)), vector / 2.0, rtol=1e-6)


def test_spectral_clipping_with_an_optimizer_without_it_is_one_line():
    from keras_recurrent.pipelines.fitting import make_optimizer
    from keras_recurrent.tasks import get_task

    config = resolve_config(get_task("babi"), overrides=["train.optimizer=rmsprop"])
    with pytest.raises(UserError, match="train.clip=spectral: supported with train.optimizer=sgd or adam, not rmsprop"):
        make_optimizer(config.train)


@pytest.mark.parametrize("task_name", task_names())
def test_optimizer_help_names_each_tasks_own_optimizer(task_name):
    # bAbI trains with SGD, yet `recurrent tasks` called its learning rate "Adam step size".
    from keras_recurrent.pipelines.config import default_config, describe_fields

    task = get_task(task_name)
    for model in task.models:
        train = default_config(task, model).train
        helps = {name: text for name, _, text in describe_fields(train)}
        assert f"({train.optimizer})" in helps["learning_rate"], (task_name, model, helps["learning_rate"])
        others = {"adam", "adamw", "rmsprop", "sgd"} - {train.optimizer}
        for name, text in helps.items():
            named = {o for o in others if f" {o} " in f" {text.replace('(', ' ').replace(')', ' ')} "}
            assert not named or "only" in text or name == "optimizer" or name == "clip", (task_name, name, text)

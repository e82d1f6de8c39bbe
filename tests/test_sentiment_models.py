"""Sentiment model builders: every registered model builds, masks padding, and trains."""

import keras
import numpy as np
import pytest

from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.pipelines.fitting import make_optimizer
from keras_recurrent.tasks import get_task
from keras_recurrent.tasks.sentiment import SentimentModel

TASK = get_task("sentiment")
INFO = {"vocabulary": ["", "[UNK]"] + [f"w{i}" for i in range(50)], "sequence_length": 12, "labels": ["negative", "positive"]}


@pytest.mark.parametrize("name", sorted(TASK.models))
def test_builds_and_predicts_probabilities(name):
    model = TASK.models.build(name, SentimentModel(units=8, embedding_dim=8, num_layers=2), INFO)
    ids = np.random.default_rng(0).integers(1, 52, size=(4, 12)).astype("int32")
    out = model.predict(ids, verbose=0)
    assert out.shape == (4, 1) and np.all((out > 0) & (out < 1))
    assert [l.name for l in model.layers if l.name.startswith(name + "_")] == [f"{name}_1", f"{name}_2"]


@pytest.mark.parametrize("name, pooling", [("lstm", "last"), ("bigru", "last"), ("bigru", "max"), ("gru", "mean"),
                                           ("mogrifier", "last"), ("sru", "max"), ("srupp", "last")])
def test_padding_is_masked(name, pooling):
    """The same tokens with more trailing padding give the same probability."""
    config = SentimentModel(units=8, embedding_dim=8, dropout=0.0, pooling=pooling, embedding_dropout=0.2)
    short = TASK.models.build(name, config, INFO)
    long = TASK.models.build(name, config, {**INFO, "sequence_length": 30})
    long.set_weights(short.get_weights())
    tokens = np.array([[5, 9, 3, 7, 2]], dtype="int32")
    a = short.predict(np.pad(tokens, ((0, 0), (0, 7))), verbose=0)
    b = long.predict(np.pad(tokens, ((0, 0), (0, 25))), verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_gradient_clipping_is_on_by_default():
    optimizer = make_optimizer(resolve_config(TASK).train)
    assert optimizer.clipnorm == 1.0
    off = make_optimizer(resolve_config(TASK, overrides=["train.clipnorm=0"]).train)
    assert off.clipnorm is None


def test_bigru_learns_negation():
    """A few hundred steps on negation-only data: word order must be used (bag of words cannot)."""
    rng = np.random.default_rng(0)
    good, bad, negator = 3, 4, 5
    n = 512
    adjective = rng.choice([good, bad], size=n)
    negated = rng.random(n) < 0.5
    ids = np.zeros((n, 12), dtype="int32")
    ids[:, 0] = 6
    for i in range(n):
        words = [negator, adjective[i]] if negated[i] else [adjective[i], 7]
        ids[i, 1:3] = words
    labels = ((adjective == good) ^ negated).astype("float32")
    keras.utils.set_random_seed(0)
    model = TASK.models.build("bigru", SentimentModel(units=8, embedding_dim=8, dropout=0.0), INFO)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model.fit(ids, labels, epochs=15, batch_size=64, verbose=0)
    assert model.evaluate(ids, labels, verbose=0)[1] == 1.0


def _vectors(path, words, dim, header=False, binary=False, seed=0):
    rng = np.random.default_rng(seed)
    table = {w: rng.normal(size=dim).astype("float32") for w in words}
    if binary:
        with open(path, "wb") as f:
            f.write(f"{len(table)} {dim}\n".encode())
            for w, v in table.items():
                f.write(w.encode() + b" " + v.astype("<f4").tobytes() + b"\n")
    else:
        lines = ([f"{len(table)} {dim}"] if header else []) + [w + " " + " ".join(f"{x:.6f}" for x in v) for w, v in table.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table


@pytest.mark.parametrize("form", ["glove", "word2vec_text", "word2vec_binary"])
def test_pretrained_vectors_are_aligned_to_the_vocabulary(form, tmp_path):
    from keras_recurrent.tasks.vectors import aligned_vectors

    vocabulary = ["", "[UNK]", "good", "bad", "film", "zzz"]
    path = tmp_path / ("v.bin" if form == "word2vec_binary" else "v.txt")
    table = _vectors(path, ["Good", "bad", "film", "other"], 4, header=form == "word2vec_text",
                     binary=form == "word2vec_binary")
    matrix, coverage = aligned_vectors(str(path), vocabulary, 4)
    np.testing.assert_allclose(matrix[2], table["Good"], atol=1e-6)  # matched through lower-casing
    np.testing.assert_allclose(matrix[4], table["film"], atol=1e-6)
    assert not matrix[0].any() and matrix[5].any()  # padding zero; a missing word gets a random row
    assert coverage["found"] == 3 and coverage["share_of_vocabulary"] == round(3 / 5, 4)


def test_vectors_are_read_once_for_repeated_builds(tmp_path, monkeypatch):
    """A sweep builds a model per trial: the same file and vocabulary are aligned once, until the file changes."""
    import os

    from keras_recurrent.tasks import vectors

    reads = []
    original = vectors._read_aligned
    monkeypatch.setattr(vectors, "_read_aligned", lambda *a: reads.append(a[0]) or original(*a))
    vocabulary = ["", "[UNK]", "good", "bad"]
    path = tmp_path / "v.txt"
    _vectors(path, ["good", "bad"], 4)
    first, _ = vectors.aligned_vectors(str(path), vocabulary, 4)
    first[2] = 99.0  # a caller changing its copy must not change the cached one
    again, _ = vectors.aligned_vectors(str(path), vocabulary, 4)
    assert len(reads) == 1 and not (again == 99.0).any()
    table = _vectors(path, ["good", "bad"], 4, seed=1)
    os.utime(path, ns=(1, 10 ** 18))  # a rewritten file is read again
    changed, _ = vectors.aligned_vectors(str(path), vocabulary, 4)
    assert len(reads) == 2
    np.testing.assert_allclose(changed[2], table["good"], atol=1e-6)


def test_a_run_with_pretrained_vectors_frozen(tmp_path):
    import json

    from keras_recurrent import pipelines

    words = "a fine and good dull bad film number the".split()
    path = tmp_path / "vectors.txt"
    table = _vectors(path, words, 8)
    run = pipelines.train("sentiment", quick=True, quiet=True, run_dir=str(tmp_path / "r"),
                          set=[f"model.embeddings={path}", "model.embedding_dim=8", "model.train_embeddings=false"])
    info = json.loads((tmp_path / "r" / "data_info.json").read_text())
    assert info["embeddings"]["found"] >= 5 and 0 < info["embeddings"]["share_of_vocabulary"] <= 1
    import keras

    model = keras.saving.load_model(tmp_path / "r" / "model.keras")
    weights = model.get_layer("embedding").get_weights()[0]
    i = info["vocabulary"].index("good")
    np.testing.assert_allclose(weights[i], table["good"], atol=1e-6)  # frozen: unchanged by training
    assert run.metrics["accuracy"] >= 0


@pytest.mark.parametrize("settings,message", [
    (["model.embeddings=/nonexistent/vectors.txt"], "no such file"),
    (["model.embedding_dim=5"], "4 numbers, but model.embedding_dim=5"),
])
def test_bad_vectors_are_one_line(settings, message, tmp_path, capsys):
    from keras_recurrent.pipelines.cli import main

    path = tmp_path / "v.txt"
    _vectors(path, "a fine and good dull bad film".split(), 4)
    args = ["train", "sentiment", "--quick", "--run-dir", str(tmp_path / "r"), "--set", f"model.embeddings={path}"]
    for item in settings:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()

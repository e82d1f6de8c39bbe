"""Character-level language model: splits, windows, baselines, a model that learns, sampling, the CLI."""

import numpy as np
import pytest

from keras_recurrent import pipelines
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.language_model import LanguageModelData, encode, ngram_baselines, split_text, windows

TASK = get_task("language_model")


def test_split_keeps_the_tail_for_test():
    text = "".join(chr(97 + i % 26) for i in range(1000))
    train, validation, test = split_text(text, LanguageModelData(sequence_length=8))
    assert train + validation + test == text
    assert (len(validation), len(test)) == (50, 50) and test == text[-50:]


def test_too_short_text_is_a_user_error():
    with pytest.raises(UserError, match="validation split has 5 characters"):
        split_text("x" * 100, LanguageModelData(sequence_length=8))


def test_windows_shift_targets_by_one():
    inputs, targets = windows(np.arange(10), 3)
    np.testing.assert_array_equal(inputs, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(targets, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_vocabulary_comes_from_training_text_only(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("ab" * 400 + "Z" * 100, encoding="utf-8")  # Z appears only in the test tail
    data = TASK.load(str(path), LanguageModelData(sequence_length=8, test_fraction=0.1, validation_fraction=0.1), 0)
    assert "Z" not in data.info["vocabulary"]
    assert set(data.extras["ids"]["test"].tolist()) == {0}  # unknown


def test_baselines_on_known_text():
    ids = encode("abcd" * 100, ["?", "a", "b", "c", "d"])
    result = ngram_baselines(ids, ids, 5)
    # Add-one smoothing over 5 symbols: a-d were seen 100 times each, "?" never: p = 101 / 405.
    assert result["unigram_bpc"] == pytest.approx(np.log2(405 / 101), rel=1e-9)
    # Rows a, b, c: 100 transitions + 5 -> p(next) = 101/105; row d: 99 + 5 -> p(a | d) = 100/104.
    expected = -(300 * np.log2(101 / 105) + 99 * np.log2(100 / 104)) / 399
    assert result["bigram_bpc"] == pytest.approx(expected, rel=1e-9)


def test_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        TASK.load(str(tmp_path / "missing.txt"), LanguageModelData(), 0)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 " * 100)
    with pytest.raises(UserError, match="not valid utf-8; pass --encoding"):
        TASK.load(str(tmp_path / "latin1.txt"), LanguageModelData(), 0)
    with pytest.raises(UserError, match="not tensorflow-datasets"):
        TASK.load("tfds:lm1b", LanguageModelData(), 0)


@pytest.mark.parametrize("model", ["lstm", "sru", "srupp", "mogrifier"])
def test_learns_a_periodic_text_and_samples_it(model, tmp_path):
    """A period-5 text is fully predictable: bpc must fall far below the unigram baseline."""
    path = tmp_path / "abc.txt"
    path.write_text("hello" * 600, encoding="utf-8")
    run = pipelines.train(
        "language_model", model=model, data=str(path), run_dir=str(tmp_path / "run"), epochs=12, quiet=True,
        set=["data.sequence_length=20", "model.units=32", "model.embedding_dim=8", "model.dropout=0",
             "model.rounds=2", "train.batch_size=16", "train.learning_rate=0.01", "model.sample_length=10"],
    )
    assert run.metrics["test_bpc"] < 0.3 < run.metrics["baselines"]["unigram_bpc"]
    (row,) = pipelines.predict(run.path, ["hel"])
    assert row["generated"].startswith("lohel")


def test_quick_cli_run_on_the_embedded_text(tmp_path, capsys):
    from keras_recurrent.pipelines.cli import main

    assert main(["train", "language_model", "--quick", "--quiet", "--run-dir", str(tmp_path / "r")]) == 0
    assert main(["predict", str(tmp_path / "r"), "The plot"]) == 0
    run_path, predicted = capsys.readouterr().out.split("\n", 1)
    assert run_path == str(tmp_path / "r")
    assert predicted.startswith("The plot") and len(predicted.rstrip("\n")) == len("The plot") + 40

"""Language-model pretraining of a classifier's embedding and encoder (tasks/pretraining.py) and its use by
the sentiment task: targets, causality, weights copied by name, a loss that falls, runs that resume."""

import json
import os

import keras
import numpy as np
import pytest

from keras_recurrent import pipelines
from keras_recurrent.tasks import UserError
from keras_recurrent.tasks.encoders import stacked_encoder
from keras_recurrent.tasks.pretraining import build_language_model, language_model_targets, pretrain
from keras_recurrent.tasks.sentiment import SentimentModel, build_classifier

from test_runs import InterruptAfter


def test_targets_are_the_next_and_previous_tokens_clipped_to_the_output_vocabulary():
    ids = np.array([[5, 9, 3, 0, 0], [2, 7, 0, 0, 0]])
    targets, weights = language_model_targets(ids, output_vocabulary=8, bidirectional=True)
    # forward: the next token (9 -> out of vocabulary 1); backward: the previous one (read at a padded
    # step too, where its weight is 0).
    np.testing.assert_array_equal(targets, [[1, 3, 0, 0, 0, 0, 5, 1, 3, 0],
                                            [7, 0, 0, 0, 0, 0, 2, 7, 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 0, 0, 0, 0, 1, 1, 0, 0],
                                            [1, 0, 0, 0, 0, 0, 1, 0, 0, 0]])
    forward, forward_weights = language_model_targets(ids, output_vocabulary=10, bidirectional=False)
    np.testing.assert_array_equal(forward, [[9, 3, 0, 0, 0], [7, 0, 0, 0, 0]])
    assert forward_weights.shape == (2, 5)


def _classifier(kind, num_layers=1, vocabulary=30, length=7):
    settings = SentimentModel(embedding_dim=8, units=6, num_layers=num_layers, dropout=0.0)
    info = {"vocabulary": [""] * vocabulary, "sequence_length": length}
    return build_classifier(kind)(settings, info), settings


@pytest.mark.parametrize("kind", ["bigru", "lstm"])
def test_no_prediction_sees_the_token_it_predicts(kind):
    """Changing token t changes no forward logit before t and no backward logit after t: the objective is
    not trivial. A second bidirectional layer would break this, which is why only the first is trained."""
    classifier, settings = _classifier(kind, num_layers=2)
    model, copied, bidirectional = build_language_model(classifier, kind, stacked_encoder, settings.units,
                                                        settings.num_layers, 0.0, output_vocabulary=12)
    assert copied == (["embedding", f"{kind}_1"] if bidirectional else ["embedding", f"{kind}_1", f"{kind}_2"])
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 30, size=(1, 7)).astype("int32")
    changed = ids.copy()
    t = 3
    changed[0, t] = (ids[0, t] + 5) % 28 + 2
    a, b = np.asarray(model(ids)), np.asarray(model(changed))
    np.testing.assert_allclose(a[0, :t], b[0, :t], atol=1e-6)  # forward predictions before t
    assert not np.allclose(a[0, t], b[0, t])  # the step reading token t does change
    if bidirectional:
        np.testing.assert_allclose(a[0, 7 + t + 1:], b[0, 7 + t + 1:], atol=1e-6)  # backward ones after t


def test_pretraining_lowers_the_loss_and_hands_its_weights_to_the_classifier():
    keras.utils.set_random_seed(0)
    classifier, settings = _classifier("bigru", vocabulary=12, length=6)
    before = {name: [w.copy() for w in classifier.get_layer(name).get_weights()] for name in ("embedding", "bigru_1")}
    head_before = [w.copy() for w in classifier.get_layer("positive_probability").get_weights()]
    # A language with two predictable sentences: a well-trained model is far below log(12) nats.
    ids = np.array([[2, 3, 4, 5, 0, 0], [6, 7, 8, 9, 10, 11]] * 64, dtype="int32")
    record = pretrain(classifier, ids, kind="bigru", make_encoder=stacked_encoder, units=settings.units,
                      num_layers=1, dropout=0.0, epochs=30, output_vocabulary=12, batch_size=32,
                      learning_rate=1e-2, seed=0, validation_ids=ids[:4])
    assert record["loss"][-1] < 0.5 < np.log(12) < record["loss"][0] + 0.5
    assert record["validation_perplexity"] < 2.0
    assert record["layers_copied"] == ["embedding", "bigru_1"] and record["objective"] == "bidirectional language model"
    for name, weights in before.items():
        after = classifier.get_layer(name).get_weights()
        assert all(not np.allclose(w, v) for w, v in zip(weights, after) if w.size > 1), name
    for w, v in zip(head_before, classifier.get_layer("positive_probability").get_weights()):
        np.testing.assert_array_equal(w, v)  # the classifier's own head is left to fine-tuning


def test_an_encoder_that_reads_the_whole_sentence_is_refused():
    classifier, settings = _classifier("srupp")
    with pytest.raises(UserError, match="srupp attends over the whole sentence"):
        build_language_model(classifier, "srupp", stacked_encoder, settings.units, 1, 0.0, 12)


UNLABELED = ["a marvellous spectacle", "an utterly tedious slog", "a marvellous cast"] * 20
PRETRAINED = dict(quick=True, epochs=2, quiet=True, seed=5,
                  set=["model.dropout=0.3", "model.pretrain_epochs=2"])


def test_a_pretrained_run_records_its_pretraining_and_resumes_without_repeating_it(tmp_path, monkeypatch):
    """Pretrained once, before the first epoch: the resumed process takes the backup's weights. (That a
    resumed run equals an uninterrupted one is tests/test_runs.py's business.)"""
    unlabeled = tmp_path / "unlabeled.txt"
    unlabeled.write_text("\n".join(UNLABELED) + "\n\n", encoding="utf-8")
    settings = dict(PRETRAINED, set=PRETRAINED["set"] + [f"data.unlabeled={unlabeled}"])
    from keras_recurrent.tasks.sentiment import SentimentTask

    calls = []
    original = SentimentTask._pretrain
    monkeypatch.setattr(SentimentTask, "_pretrain", lambda self, *a: calls.append(1) or original(self, *a))
    target = str(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        pipelines.train("sentiment", run_dir=target, callbacks=[InterruptAfter(0)], **settings)
    resumed = pipelines.train("sentiment", run_dir=target, **settings)
    assert calls == [1] and resumed.resumed_from_epoch == 1
    record = json.load(open(os.path.join(target, "pretraining.json")))
    assert record["unlabeled_texts"] == 60 and record["epochs"] == 2 and len(record["loss"]) == 2
    info = json.load(open(os.path.join(target, "data_info.json")))
    assert record["texts"] == info["sizes"]["train"] + 60  # the language model read the unlabeled texts too
    assert "marvellous" in info["vocabulary"] and "tedious" in info["vocabulary"]  # words only the unlabeled file holds


def test_pretraining_is_off_by_default_and_a_missing_unlabeled_file_is_one_line(tmp_path):
    run = pipelines.train("sentiment", run_dir=str(tmp_path / "plain"), quick=True, quiet=True)
    assert not os.path.exists(os.path.join(run.path, "pretraining.json"))
    with pytest.raises(UserError, match=r"data.unlabeled=.*nowhere.txt: no such file"):
        pipelines.train("sentiment", run_dir=str(tmp_path / "bad"), quick=True, quiet=True,
                        set=["model.pretrain_epochs=1", f"data.unlabeled={tmp_path / 'nowhere.txt'}"])
    assert not os.path.exists(tmp_path / "bad")

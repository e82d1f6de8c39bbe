"""The embedded corpus: deterministic, balanced, and not solvable by a bag of words."""

import numpy as np

from keras_recurrent.tasks.sentiment.corpus import POSITIVE, generate_corpus


def test_deterministic_and_balanced():
    texts, labels = generate_corpus(2000, seed=3)
    assert (texts, labels) == generate_corpus(2000, seed=3)
    assert texts != generate_corpus(2000, seed=4)[0]
    assert 0.45 < np.mean(labels) < 0.55


def _clause_polarity(clause: str) -> int:
    words = clause.split()
    sign = 1 if any(w in POSITIVE for w in words) else -1
    return -sign if any(w in ("not", "never", "hardly") for w in words) else sign


def test_labels_follow_the_grammar():
    """Re-derive each label from the text with the documented rules."""
    intensifiers = ("very", "truly", "really", "extremely", "incredibly")
    for text, label in zip(*generate_corpus(500, seed=0)):
        body = text
        if " but " in body:
            expected = _clause_polarity(body.split(" but ")[1])
        elif "although" in body:
            expected = _clause_polarity(body.split("although", 1)[1].split(" , ")[1])
        elif " and " in body:
            clauses = body.split(" and ")
            strong = [c for c in clauses if any(f" {w} " in f" {c} " for w in intensifiers)]
            assert len(strong) == 1, text
            expected = _clause_polarity(strong[0])
        else:
            expected = _clause_polarity(body)
        assert int(expected > 0) == label, text


def test_unigram_bag_of_words_is_near_chance():
    from keras_recurrent.tasks.sentiment import bag_of_words_baseline

    train = generate_corpus(3000, seed=1)
    test = generate_corpus(1000, seed=2)
    assert bag_of_words_baseline(train, test)["accuracy"] < 0.6


def test_negation_is_the_share_of_negated_clauses():
    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.sentiment.data import read_source

    def negated_share(texts):
        clauses = sum(2 if any(k in f" {t} " for k in (" but ", " although ", " and ")) else 1 for t in texts)
        return sum(w in ("not", "never", "hardly") for t in texts for w in t.split()) / clauses

    assert negated_share(generate_corpus(500, seed=0, negation=0.0)[0]) == 0.0
    assert 0.32 < negated_share(generate_corpus(3000, seed=0)[0]) < 0.38  # the default, 0.35
    texts = read_source(None, get_task("sentiment").DataConfig(num_examples=300, negation=1.0), seed=1).train[0]
    assert negated_share(texts) == 1.0  # data.negation reaches the generator

"""The end-to-end memory network against a NumPy transcription of the paper's equations."""

import numpy as np
import pytest

from keras_recurrent.layers import MemN2N


def _reference(layer, story, question, linear=False):
    E, T = np.asarray(layer.embeddings, np.float64), np.asarray(layer.temporal, np.float64)
    d, hops = layer.embedding_dim, layer.hops

    def encode(ids, table):
        words = [w for w in ids if w > 1]
        J, out, position = len(words), np.zeros(d), 0
        for w in ids:
            if w > 1:
                position += 1
                l = np.array([(1 - position / J) - (k / d) * (1 - 2 * position / J) for k in range(1, d + 1)])
                out += l * table[w]
        return out

    answers, attentions = [], []
    for b in range(len(story)):
        sentences = [s for s in story[b] if (s != 0).any()]
        n = len(sentences)
        u = encode(question[b], E[0])
        hop_attention = []
        for k in range(1, hops + 1):
            m = np.array([encode(s, E[k - 1]) + T[k - 1][n - 1 - i] for i, s in enumerate(sentences)])
            c = np.array([encode(s, E[k]) + T[k][n - 1 - i] for i, s in enumerate(sentences)])
            scores = m @ u
            p = scores if linear else np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            u = u + p @ c
            hop_attention.append(np.pad(p, (0, story.shape[1] - n)))
        answers.append(E[hops] @ u)
        attentions.append(hop_attention)
    return np.array(answers), np.array(attentions)


@pytest.mark.parametrize("linear", [False, True])
def test_memn2n_matches_its_equations(linear):
    rng = np.random.default_rng(0)
    layer = MemN2N(25, embedding_dim=6, hops=3, max_memories=8)
    story = rng.integers(2, 25, size=(3, 8, 5))
    story[:, :, 3:] = 0            # sentences of 3 words
    story[0, 5:] = 0               # a story of 5 sentences
    story[1, 2] = [1, 0, 0, 0, 0]  # an empty memory (random noise)
    story[2, 1, 1:] = 0            # a one-word sentence
    question = rng.integers(2, 25, size=(3, 4))
    question[0, 2:] = 0
    layer([story, question])
    for v in layer.trainable_weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
    layer.linear_start.assign(1.0 if linear else 0.0)
    expected, attention = _reference(layer, story, question, linear)
    np.testing.assert_allclose(np.asarray(layer([story, question])), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.attention([story, question])), attention, rtol=1e-5, atol=1e-5)


def test_round_trip_keeps_the_linear_start_switch(tmp_path):
    import keras

    rng = np.random.default_rng(1)
    story, question = keras.Input((6, 4), dtype="int32"), keras.Input((4,), dtype="int32")
    model = keras.Model([story, question], MemN2N(20, embedding_dim=5, hops=2, max_memories=6)([story, question]))
    layer = model.layers[-1]
    for v in layer.trainable_weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
    layer.linear_start.assign(1.0)
    inputs = [rng.integers(0, 20, (2, 6, 4)), rng.integers(2, 20, (2, 4))]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert float(loaded.layers[-1].linear_start) == 1.0
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        MemN2N(2)
    with pytest.raises(ValueError):
        MemN2N(10, hops=0)

"""The end-to-end memory network against a NumPy transcription of the paper's equations."""

import numpy as np
import pytest

from keras_recurrent.layers import MemN2N


def _reference(layer, story, question, linear=False, centred=False, noise="memories", padding=False):
    E, T = np.asarray(layer.embeddings, np.float64), np.asarray(layer.temporal, np.float64)
    d, hops = layer.embedding_dim, layer.hops
    # The authors' code: J slots, the longest sentence (or question) and the time after it.
    slots = max(story.shape[-1], question.shape[-1]) + 1

    def centred_l(j):
        return np.array([1 + 4 * (k - (d + 1) / 2) * (j - (slots + 1) / 2) / (d * slots) for k in range(1, d + 1)])

    def encode(ids, table):
        words = [w for w in ids if w > 1]
        J, out, position = len(words), np.zeros(d), 0
        for slot, w in enumerate(ids, start=1):
            if w > 1:
                position += 1
                if centred:  # by the word's slot in the padded row
                    l = centred_l(slot)
                else:
                    l = np.array([(1 - position / J) - (k / d) * (1 - 2 * position / J) for k in range(1, d + 1)])
                out += l * table[w]
        return out

    time_l = centred_l(slots) if centred else 1.0

    answers, attentions = [], []
    for b in range(len(story)):
        rows = story[b]
        occupied = [(r != 0).any() for r in rows]  # memories first, padding after
        n = sum(occupied)
        # What the attention chooses from: every memory, or with noise as time gaps the sentences only;
        # with padding in the softmax the unused slots too (score 0, nothing read).
        chosen = [(r > 1).any() if noise == "time_gaps" else o for r, o in zip(rows, occupied)]
        u = encode(question[b], E[0])
        hop_attention = []
        for k in range(1, hops + 1):
            scores, c, used = np.zeros(len(rows)), np.zeros((len(rows), d)), np.zeros(len(rows), bool)
            for i, row in enumerate(rows):
                if chosen[i]:
                    scores[i] = (encode(row, E[k - 1]) + time_l * T[k - 1][n - 1 - i]) @ u
                    c[i] = encode(row, E[k]) + time_l * T[k][n - 1 - i]
                used[i] = chosen[i] or (padding and not occupied[i])
            if linear:
                p = np.where(chosen, scores, 0.0)
            else:
                e = np.where(used, np.exp(scores - scores[used].max()), 0.0)
                p = e / e.sum()
            u = u + p @ c
            hop_attention.append(p)
        answers.append(E[hops] @ u)
        attentions.append(hop_attention)
    return np.array(answers), np.array(attentions)


@pytest.mark.parametrize("linear,centred,noise,padding", [
    (False, False, "memories", False), (True, False, "memories", False), (False, True, "memories", False),
    (True, True, "memories", False), (False, True, "time_gaps", True), (True, True, "time_gaps", True),
    (False, False, "memories", True), (False, True, "time_gaps", False)])
def test_memn2n_matches_its_equations(linear, centred, noise, padding):
    rng = np.random.default_rng(0)
    layer = MemN2N(25, embedding_dim=6, hops=3, max_memories=8, position_weights="centred" if centred else "paper",
                   noise=noise, padding_in_softmax=padding)
    story = rng.integers(2, 25, size=(3, 8, 5))
    story[:, :, 3:] = 0            # sentences of 3 words
    story[0, 5:] = 0               # a story of 5 sentences
    story[1, 2] = [1, 0, 0, 0, 0]  # an empty memory (random noise)
    story[1, 6:] = 0               # and two unused slots
    story[2, 1, 1:] = 0            # a one-word sentence
    question = rng.integers(2, 25, size=(3, 4))
    question[0, 2:] = 0
    layer([story, question])
    for v in layer.trainable_weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
    layer.linear_start.assign(1.0 if linear else 0.0)
    expected, attention = _reference(layer, story, question, linear, centred, noise, padding)
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
    with pytest.raises(ValueError, match="random_noise"):
        MemN2N(10, random_noise=1.0)
    with pytest.raises(ValueError, match="noise must be"):
        MemN2N(10, noise="gaps")


def _noisy_reference(story, empty_before):
    """NumPy: an empty memory before each real sentence where `empty_before`, the last rows kept."""
    size, width = story.shape
    rows = []
    for sentence, empty in zip(story, empty_before):
        if (sentence != 0).any():
            rows += ([[1] + [0] * (width - 1)] if empty else []) + [list(sentence)]
    rows = rows[-size:]
    return np.array(rows + [[0] * width] * (size - len(rows)), dtype=np.int32).reshape(size, width)


def test_random_noise_inserts_empty_memories_in_training_only():
    rng = np.random.default_rng(4)
    layer = MemN2N(40, embedding_dim=4, hops=1, max_memories=8, random_noise=0.3, seed=5)
    story = rng.integers(2, 40, (64, 8, 3)).astype(np.int32)
    lengths = rng.integers(1, 9, 64)
    for b, n in enumerate(lengths):
        story[b, n:] = 0
    story[:, :, 2] *= rng.random((64, 8)) < 0.5  # sentences of different lengths
    inserted, real_seen = 0, 0
    for _ in range(20):
        noisy = np.asarray(layer.with_empty_memories(story))
        for b in range(len(story)):
            # Recover which sentences got an empty memory before them, then rebuild with NumPy.
            kept = [r for r in noisy[b] if (r != 0).any()]
            empties = [r[0] == 1 and not r[1:].any() for r in kept]
            pending, flags = False, []
            for empty in empties:
                assert not (empty and pending), "one empty memory at most before a sentence"
                if not empty:
                    flags.append(pending)
                pending = empty
            assert not pending, "an empty memory is always followed by its sentence"
            real = [s for s in story[b] if (s != 0).any()]
            flags = [False] * (len(real) - len(flags)) + flags  # sentences pushed out of the window
            np.testing.assert_array_equal(noisy[b], _noisy_reference(story[b], flags + [False] * (8 - len(real))))
            inserted += sum(empties)
            real_seen += min(len(real), len(kept) - sum(empties))
    assert 0.22 < inserted / real_seen < 0.38  # the drawn share is random_noise (0.3)
    inputs = [story, rng.integers(2, 40, (64, 4))]
    np.testing.assert_array_equal(np.asarray(layer(inputs)), np.asarray(layer(inputs)))  # inference: no noise
    assert not np.array_equal(np.asarray(layer(inputs, training=True)), np.asarray(layer(inputs)))

"""The attention layers against NumPy references of their papers' equations: the additive score (Bahdanau et
al. 2015), the pointer's masked softmax (Vinyals et al. 2015) and the soft attention of captioning (Xu et al.
2015); round trips, gradients and argument checks."""

import itertools

import numpy as np
import pytest

from keras_recurrent.layers import AdditiveScore, PointerAttention, SelectPositions


def _randomised(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype(w.dtype))
    return model


def _reference_scores(keys, queries, w1, w2, v):
    """u_ij = v^T tanh(W1 e_j + W2 d_i), written out with loops over i and j."""
    out = np.zeros((keys.shape[0], queries.shape[1], keys.shape[1]))
    for b, i, j in itertools.product(range(keys.shape[0]), range(queries.shape[1]), range(keys.shape[1])):
        out[b, i, j] = v @ np.tanh(keys[b, j] @ w1 + queries[b, i] @ w2)
    return out


def _reference_pointer(scores, key_mask, previous, stop, min_before_stop, all_before_stop):
    """The pointer's masked softmax, one step at a time, from the rules in its docstring."""
    batch, steps, positions = scores.shape
    out = np.zeros_like(scores)
    for b, i in itertools.product(range(batch), range(steps)):
        chosen = {int(p) for p in previous[b, : i + 1]} - {stop}
        allowed = [bool(key_mask[b, j]) and j not in chosen for j in range(positions)]
        open_points = [j for j in range(positions) if key_mask[b, j] and j not in chosen and j != stop]
        allowed[stop] = allowed[stop] and len(chosen) >= min_before_stop and not (all_before_stop and open_points)
        if not any(allowed):
            allowed[stop] = True
        logits = np.where(allowed, scores[b, i], -np.inf)
        e = np.exp(logits - logits.max())
        out[b, i] = e / e.sum()
    return out


def test_additive_score_matches_its_equation():
    rng = np.random.default_rng(0)
    keys, queries = rng.normal(size=(2, 5, 4)).astype("f"), rng.normal(size=(2, 3, 6)).astype("f")
    layer = AdditiveScore(7)
    layer([keys, queries])
    w1, w2, v = (rng.normal(size=w.shape).astype("f") for w in layer.weights)
    layer.set_weights([w1, w2, v])
    np.testing.assert_allclose(np.asarray(layer([keys, queries])), _reference_scores(keys, queries, w1, w2, v), atol=1e-5)
    single = np.asarray(layer([keys, queries[:, 1]]))  # one query: (batch, positions)
    np.testing.assert_allclose(single, _reference_scores(keys, queries[:, 1:2], w1, w2, v)[:, 0], atol=1e-5)
    with pytest.raises(ValueError):
        AdditiveScore(0)


@pytest.mark.parametrize("min_before_stop,all_before_stop", [(0, True), (3, False), (0, False)])
def test_pointer_attention_matches_the_masked_softmax(min_before_stop, all_before_stop):
    rng = np.random.default_rng(1)
    batch, positions, steps = 3, 6, 6
    encoded = rng.normal(size=(batch, positions, 5)).astype("f")
    queries = rng.normal(size=(batch, steps, 4)).astype("f")
    key_mask = np.ones((batch, positions), bool)
    key_mask[1, 4:] = False  # instance 1 has 3 points: positions 4 and 5 are padding
    previous = np.array([[0, 3, 1, 5, 2, 4], [0, 2, 1, 3, 0, 0], [0, 1, 0, 0, 0, 0]])
    layer = PointerAttention(8, exclude_chosen=True, stop_index=0, min_before_stop=min_before_stop,
                             all_before_stop=all_before_stop)
    layer([encoded, queries, previous], mask=[key_mask, None, None])
    for w in layer.weights:
        w.assign(rng.normal(size=w.shape).astype("f"))
    got = np.asarray(layer([encoded, queries, previous], mask=[key_mask, None, None]))
    scores = np.asarray(layer.score([encoded, queries]))
    expected = _reference_pointer(scores, key_mask, previous, 0, min_before_stop, all_before_stop)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.all(got[1, :, 4:] == 0.0)  # padding: exactly zero
    assert got[0, 3, 3] == 0.0 and got[0, 3, 1] == 0.0  # chosen earlier: exactly zero


def test_select_positions_gathers_rows():
    sequence = np.arange(24.0).reshape(2, 4, 3)
    indices = np.array([[3, 0, 0], [1, 1, 2]])
    np.testing.assert_array_equal(np.asarray(SelectPositions()([sequence, indices])),
                                  np.stack([sequence[b, indices[b]] for b in range(2)]))


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError):
        PointerAttention(8, min_before_stop=2)  # no stop position to hold back
    with pytest.raises(ValueError):
        PointerAttention(8, stop_index=0, min_before_stop=-1)


# -- exact answers -----------------------------------------------------------------------------------


def test_additive_attention_matches_the_equations_and_masks_keys():
    import keras

    from keras_recurrent.layers import AdditiveAttention

    rng = np.random.default_rng(0)
    keys, queries = rng.normal(size=(2, 6, 5)).astype("f"), rng.normal(size=(2, 3, 4)).astype("f")
    layer = AdditiveAttention(7)
    layer([keys, queries])
    w1, w2, v = (np.asarray(w) for w in (layer.score.key_kernel, layer.score.query_kernel, layer.score.score_vector))
    u = np.tanh((keys @ w1)[:, None] + (queries @ w2)[:, :, None]) @ v           # (batch, steps, positions)
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    u_masked = np.where(mask[:, None], u, -np.inf)
    alpha = np.exp(u_masked - u_masked.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)
    context, weights = layer([keys, queries], mask=[mask, None])
    np.testing.assert_allclose(weights, alpha, atol=1e-5)
    np.testing.assert_allclose(context, alpha @ keys, atol=1e-5)
    assert np.all(np.asarray(weights)[1, :, 4:] == 0)
    # Saved and loaded inside a model: same outputs.
    k_in, q_in = keras.Input((6, 5)), keras.Input((3, 4))
    model = keras.Model([k_in, q_in], AdditiveAttention(7, name="attention")([k_in, q_in]))
    _randomised(model)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    for a, b in zip(model.predict([keys, queries], verbose=0), clone.predict([keys, queries], verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="units must be positive"):
        AdditiveAttention(0)

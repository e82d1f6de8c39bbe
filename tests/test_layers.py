"""Mogrifier LSTM, SRU and SRU++ against NumPy references of their papers' equations, plus masking,
direction, gradients and serialization."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_recurrent.layers import SRU, MogrifierLSTM, MogrifierLSTMCell, SRUpp


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---- NumPy references, written from the papers' equations --------------------------------------------

def mogrifier_reference(x, layer):
    """Melis et al. 2020: r rounds of x <- 2 sig(Q h) x (odd), h <- 2 sig(R x) h (even), then an LSTM step."""
    cell = layer.cell
    kernel, recurrent, bias = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    rounds = [([np.asarray(f) for f in fs], np.asarray(b)) for fs, b in zip(cell.mogrifier_kernels, cell.mogrifier_biases)]
    batch, time, _ = x.shape
    h = np.zeros((batch, cell.units))
    c = np.zeros((batch, cell.units))
    outputs = []
    for t in range(time):
        xt = x[:, t]
        for i, (factors, b) in enumerate(rounds, start=1):
            z = h if i % 2 else xt
            for f in factors:
                z = z @ f
            if i % 2:
                xt = 2 * sigmoid(z + b) * xt
            else:
                h = 2 * sigmoid(z + b) * h
        gates = xt @ kernel + h @ recurrent + bias
        gi, gf, gg, go = np.split(gates, 4, axis=-1)
        c = sigmoid(gf) * c + sigmoid(gi) * np.tanh(gg)
        h = sigmoid(go) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1)


def recurrence_reference(u, x_highway, layer):
    """Lei et al. 2018: f, r gates with v * c_{t-1}; c = f c + (1-f) u_c; h = r c + (1-r) alpha x'."""
    v_f, v_r, b_f, b_r = (np.asarray(w) for w in (layer.v_f, layer.v_r, layer.b_f, layer.b_r))
    u_c, u_f, u_r = np.split(u, 3, axis=-1)
    c = np.zeros((u.shape[0], layer.units))
    outputs = []
    for t in range(u.shape[1]):
        f = sigmoid(u_f[:, t] + v_f * c + b_f)
        r = sigmoid(u_r[:, t] + v_r * c + b_r)
        c = f * c + (1 - f) * u_c[:, t]
        outputs.append(r * c + (1 - r) * layer.alpha * x_highway[:, t])
    return np.stack(outputs, 1), c


def sru_reference(x, layer):
    highway = x if layer.highway_kernel is None else x @ np.asarray(layer.highway_kernel)
    return recurrence_reference(x @ np.asarray(layer.kernel), highway, layer)


def srupp_reference(x, layer):
    """Lei 2021: Q = X Wq, K = Q Wk, V = Q Wv, A = softmax(QK^T/sqrt(d')) V, U = LN(Q + alpha A) Wo."""
    q = x @ np.asarray(layer.query_kernel)
    k = q @ np.asarray(layer.key_kernel)
    v = q @ np.asarray(layer.value_kernel)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(layer.attention_dim)
    if layer.causal:
        scores = np.where(np.tril(np.ones(scores.shape[1:], bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    z = q + float(layer.residual_scale) * (weights @ v)
    mean, var = z.mean(-1, keepdims=True), z.var(-1, keepdims=True)
    gamma, beta = (np.asarray(w) for w in layer.layer_norm.weights)
    z = (z - mean) / np.sqrt(var + 1e-5) * gamma + beta
    highway = x if layer.highway_kernel is None else x @ np.asarray(layer.highway_kernel)
    return recurrence_reference(z @ np.asarray(layer.output_kernel), highway, layer)


def randomise(layer, rng, scale=0.5):
    """Random weights everywhere (zeros-initialised vectors and alpha included) so every term counts."""
    layer.set_weights([rng.normal(0, scale, np.shape(w)).astype(np.asarray(w).dtype) for w in layer.get_weights()])


CASES = {
    "mogrifier": (lambda **kw: MogrifierLSTM(6, rounds=5, **kw), mogrifier_reference),
    "mogrifier_low_rank": (lambda **kw: MogrifierLSTM(6, rounds=4, rank=2, **kw), mogrifier_reference),
    "sru": (lambda **kw: SRU(6, **kw), sru_reference),
    "sru_same_width": (lambda **kw: SRU(5, highway_bias=-1.0, **kw), sru_reference),
    "srupp": (lambda **kw: SRUpp(6, attention_dim=3, **kw), srupp_reference),
    "srupp_causal": (lambda **kw: SRUpp(5, attention_dim=4, causal=True, **kw), srupp_reference),
}


@pytest.mark.parametrize("name", CASES)
def test_matches_numpy_reference(name):
    """Forward pass within 1e-5 of the reference on random weights and inputs."""
    make, reference = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 5)).astype("float32")
    layer = make(return_sequences=True)
    layer(x)
    if name.startswith("mogrifier"):  # the reference reads the layer's rounds: they must all exist
        assert len(layer.cell.mogrifier_kernels) == len(layer.cell.mogrifier_biases) == layer.cell.rounds
    randomise(layer, rng)
    expected = reference(x.astype("float64"), layer)
    expected = expected[0] if isinstance(expected, tuple) else expected
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5, rtol=1e-5)


def test_sru_narrower_than_its_input_matches_the_reference():
    """5 inputs onto 4 units: the highway term goes through its projection."""
    x = np.random.default_rng(14).normal(size=(2, 6, 5)).astype("float32")
    layer = SRU(4, return_sequences=True)
    layer(x)
    assert layer.highway_kernel is not None
    randomise(layer, np.random.default_rng(15))
    expected, _ = sru_reference(x.astype("float64"), layer)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mogrifier", "sru", "srupp"])
def test_compute_output_shape_matches_the_call(name):
    """Batch 2 and 7 steps, so a shape that swapped them would show; with and without sequences and state."""
    make, _ = CASES[name]
    x = np.random.default_rng(0).normal(size=(2, 7, 5)).astype("float32")
    for kwargs in ({}, {"return_sequences": True, "return_state": True}):
        layer = make(**kwargs)
        outputs = layer(x)
        shapes = [tuple(o.shape) for o in outputs] if isinstance(outputs, (list, tuple)) else tuple(outputs.shape)
        expected = layer.compute_output_shape(x.shape)
        expected = [tuple(e) for e in expected] if isinstance(expected[0], (list, tuple)) else tuple(expected)
        assert expected == shapes, kwargs


def test_mogrifier_with_zero_rounds_is_exactly_an_lstm():
    x = np.random.default_rng(1).normal(size=(2, 6, 4)).astype("float32")
    mogrifier, lstm = MogrifierLSTM(5, rounds=0, return_sequences=True), keras.layers.LSTM(5, return_sequences=True)
    mogrifier(x), lstm(x)
    lstm.set_weights(mogrifier.get_weights())
    np.testing.assert_array_equal(np.asarray(mogrifier(x)), np.asarray(lstm(x)))


def test_sru_highway_projection_only_when_widths_differ():
    """Equal widths use the input itself as the highway, also beyond the small ints Python caches (an
    identity test, `is not`, would tell 300 from 300 apart)."""
    for units, width, projected in ((300, 300, False), (4, 5, True), (6, 5, True), (5, 5, False)):
        layer = SRU(int(str(units)))  # equal values, distinct objects, as when widths come from a config
        layer.build((None, None, int(str(width))))
        assert (layer.highway_kernel is not None) == projected, (units, width)


def test_sru_traces_with_a_known_batch_and_an_unknown_length():
    """A graph whose batch size is fixed but whose length is not (an export with a fixed batch): the
    recurrence's inputs must be packed, as for a fully unknown shape, and the results equal eager ones."""
    x = np.random.default_rng(9).normal(size=(2, 6, 5)).astype("float32")
    layer = SRU(4, return_sequences=True)
    layer(x)
    traced = tf.function(lambda t: layer(t), input_signature=[tf.TensorSpec((2, None, 5), tf.float32)])
    for steps in (3, 6):
        np.testing.assert_allclose(np.asarray(traced(x[:, :steps])), np.asarray(layer(x[:, :steps])), atol=1e-6)


def test_sru_highway_scale_and_state():
    layer = SRU(4, highway_bias=-2.0, return_state=True)
    assert layer.alpha == pytest.approx(np.sqrt(1 + 2 * np.exp(-2.0)))
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    last, state = layer(x)
    randomise(layer, np.random.default_rng(3))
    last, state = layer(x)
    outputs, c = sru_reference(x.astype("float64"), layer)
    np.testing.assert_allclose(np.asarray(last), outputs[:, -1], atol=1e-5)
    np.testing.assert_allclose(np.asarray(state), c, atol=1e-5)


def test_srupp_attention_width_defaults_to_a_quarter_of_the_units():
    assert [SRUpp(units).attention_dim for units in (40, 8, 3)] == [10, 2, 1]
    assert SRUpp(40, attention_dim=7).attention_dim == 7


def test_sru_family_highway_bias_defaults_to_zero():
    # b = 0 sets the highway scale alpha = sqrt(1 + 2 e^0) = sqrt(3), the SRU paper's initialisation.
    for layer in (SRU(8), SRUpp(8)):
        assert layer.highway_bias == 0.0 and layer.get_config()["highway_bias"] == 0.0


def test_srupp_starts_as_a_low_rank_sru():
    """With alpha = 0 (its initial value) attention does not contribute: U = LN(X Wq) Wo."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    layer = SRUpp(8, attention_dim=2, return_sequences=True)
    layer(x)
    assert float(layer.residual_scale) == 0.0
    randomise(layer, rng)
    layer.residual_scale.assign(0.0)
    before = np.asarray(layer(x))
    # Keys and values do not matter while alpha is 0 ...
    layer.key_kernel.assign(rng.normal(size=(2, 2)).astype("float32"))
    layer.value_kernel.assign(rng.normal(size=(2, 2)).astype("float32"))
    np.testing.assert_allclose(np.asarray(layer(x)), before, atol=1e-6)
    # ... and the output is SRU's recurrence over U = LN(X Wq) Wo.
    q = x.astype("float64") @ np.asarray(layer.query_kernel)
    gamma, beta = (np.asarray(w) for w in layer.layer_norm.weights)
    z = (q - q.mean(-1, keepdims=True)) / np.sqrt(q.var(-1, keepdims=True) + 1e-5) * gamma + beta
    expected, _ = recurrence_reference(z @ np.asarray(layer.output_kernel), x.astype("float64"), layer)
    np.testing.assert_allclose(before, expected, atol=1e-5)
    layer.residual_scale.assign(0.5)  # once alpha moves, attention counts
    assert not np.allclose(np.asarray(layer(x)), before, atol=1e-3)


@pytest.mark.parametrize("name", CASES)
def test_gradients_match_finite_differences(name):
    make, _ = CASES[name]
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 5))
    layer = make(return_sequences=True, dtype="float64")
    layer(x)
    randomise(layer, rng)
    probe = rng.normal(size=layer(x).shape)
    weight = layer.trainable_weights[0]

    def loss(x_value):
        return float(np.sum(np.asarray(layer(x_value)) * probe))

    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        value = tf.reduce_sum(layer(x_tensor) * probe)
    grad_x, grad_w = tape.gradient(value, [x_tensor, weight.value])
    eps = 1e-6
    for index in [(0, 0, 0), (1, 3, 4), (0, 2, 1)]:
        bumped = x.copy()
        bumped[index] += eps
        lowered = x.copy()
        lowered[index] -= eps
        assert np.asarray(grad_x)[index] == pytest.approx((loss(bumped) - loss(lowered)) / (2 * eps), rel=1e-5, abs=1e-8)
    original = np.asarray(weight).copy()
    flat_index = np.unravel_index(1, original.shape)
    numeric = []
    for sign in (1, -1):
        changed = original.copy()
        changed[flat_index] += sign * eps
        weight.assign(changed)
        numeric.append(loss(x))
    weight.assign(original)
    assert np.asarray(grad_w)[flat_index] == pytest.approx((numeric[0] - numeric[1]) / (2 * eps), rel=1e-5, abs=1e-8)


def _run_with_padding(layer_factory, x, lengths, seed):
    """Outputs of a padded, masked batch and of each sequence alone, unpadded, with the same weights."""
    rng = np.random.default_rng(seed)
    padded_layer = layer_factory()
    mask = np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]
    padded_layer(x, mask=mask)
    randomise(padded_layer, rng)
    padded = np.asarray(padded_layer(np.where(mask[..., None], x, 7.0), mask=mask))  # junk in the padding
    alone = []
    for i, length in enumerate(lengths):
        single = layer_factory()
        single(x[i:i + 1, :length])
        single.set_weights(padded_layer.get_weights())
        alone.append(np.asarray(single(x[i:i + 1, :length]))[0])
    return padded, alone


@pytest.mark.parametrize("name", CASES)
def test_padding_is_masked(name):
    make, _ = CASES[name]
    x = np.random.default_rng(6).normal(size=(3, 6, 5)).astype("float32")
    lengths = [6, 3, 1]
    padded, alone = _run_with_padding(lambda: make(), x, lengths, seed=7)
    for i in range(3):
        np.testing.assert_allclose(padded[i], alone[i], atol=1e-5)
    padded, alone = _run_with_padding(lambda: make(return_sequences=True), x, lengths, seed=7)
    for i, length in enumerate(lengths):
        np.testing.assert_allclose(padded[i, :length], alone[i], atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_left_padding_leaves_the_state_alone(name):
    """Padding before the sequence: a recurrence that ignored the mask would carry the junk forward."""
    make, _ = CASES[name]
    rng = np.random.default_rng(16)
    x = rng.normal(size=(2, 6, 5)).astype("float32")
    mask = np.array([[False, False, False, True, True, True], [True] * 6])
    layer = make(return_sequences=True, return_state=name.startswith("sru"))
    layer(x, mask=mask)
    randomise(layer, rng)
    out = layer(np.where(mask[..., None], x, 50.0).astype("float32"), mask=mask)
    sequence = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
    single = make(return_sequences=True, return_state=name.startswith("sru"))
    single(x[:1, 3:])
    single.set_weights(layer.get_weights())
    alone = single(x[:1, 3:])
    np.testing.assert_allclose(sequence[0, 3:], np.asarray(alone[0] if isinstance(alone, (list, tuple)) else alone)[0],
                               atol=1e-5)
    if name.startswith("sru"):
        np.testing.assert_allclose(np.asarray(out[1])[0], np.asarray(alone[1])[0], atol=1e-5)  # the final state too
        # SRU and SRU++ document zeros at masked steps of the returned sequence.
        np.testing.assert_array_equal(sequence[0, :3], 0.0)


@pytest.mark.parametrize("name", CASES)
def test_go_backwards_reads_the_reversed_sequence(name):
    make, _ = CASES[name]
    x = np.random.default_rng(8).normal(size=(2, 5, 5)).astype("float32")
    forward, backward = make(), make(go_backwards=True)
    forward(x), backward(x)
    randomise(forward, np.random.default_rng(9))
    backward.set_weights(forward.get_weights())
    np.testing.assert_allclose(np.asarray(backward(x)), np.asarray(forward(x[:, ::-1])), atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_bidirectional_with_padding(name):
    make, _ = CASES[name]
    x = np.random.default_rng(10).normal(size=(3, 6, 5)).astype("float32")
    lengths = [6, 4, 2]
    padded, alone = _run_with_padding(lambda: keras.layers.Bidirectional(make()), x, lengths, seed=11)
    for i in range(3):
        np.testing.assert_allclose(padded[i], alone[i], atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_save_and_load_with_safe_mode(name, tmp_path):
    make, _ = CASES[name]
    inputs = keras.Input((None, 5))
    outputs = keras.layers.Dense(1)(make(dropout=0.1, return_sequences=False)(keras.layers.Masking()(inputs)))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(12).normal(size=(2, 4, 5)).astype("float32")
    x[1, 2:] = 0.0  # all-zero steps: the Masking layer masks them
    model(x)
    # Random values in every weight, the zero-initialised gate vectors and residual scale included, so a
    # weight dropped on save (or restored as its initial value) changes the loaded model's outputs.
    randomise(model.layers[2], np.random.default_rng(14))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    for saved, restored in zip(model.layers[2].weights, loaded.layers[2].weights):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))
    # The masked steps are really skipped: the second example's output is its first two steps' alone.
    short = model.predict(x[1:2, :2], verbose=0)
    np.testing.assert_allclose(loaded.predict(x[1:2], verbose=0), short, atol=1e-5)
    layer = model.layers[2]
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("name", ["mogrifier", "sru", "srupp_causal"])
def test_dropout_only_in_training_and_one_mask_per_sequence(name):
    make, _ = CASES[name]
    layer = make(dropout=0.5, seed=1, return_sequences=True)
    rng = np.random.default_rng(15)
    step = rng.normal(size=(2, 1, 5)).astype("float32")
    x = np.repeat(step, 4, axis=1)  # the same input at every step
    layer(x)
    randomise(layer, rng)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(layer(x)))
    trained = np.asarray(layer(x, training=True))
    assert not np.allclose(trained, np.asarray(layer(x)))
    # One mask per sequence: the dropped input is then the same at every step, so the training output is
    # the inference output of x * m / (1 - p) for one of the 2^5 masks m. A mask drawn per step would
    # make the inputs differ between steps, and no single m would reproduce the whole sequence.
    masks = np.array([[(i >> j) & 1 for j in range(5)] for i in range(32)], "float32")
    for b in range(2):
        candidates = np.asarray(layer(np.repeat(x[b:b + 1], 32, axis=0) * masks[:, None, :] / 0.5))
        assert np.abs(candidates - trained[b]).max(axis=(1, 2)).min() < 1e-5, f"example {b}: no shared mask fits"


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(sorted(CASES)),
    batch=st.integers(1, 3),
    time=st.integers(1, 6),
    features=st.integers(1, 4),
    data=st.data(),
)
def test_property_shapes_and_masking(name, batch, time, features, data):
    """Any shape and any right-padding: outputs have the right shape and padded steps change nothing."""
    make, _ = CASES[name]
    lengths = data.draw(st.lists(st.integers(1, time), min_size=batch, max_size=batch))
    rng = np.random.default_rng(batch * 100 + time * 10 + features)
    x = rng.normal(size=(batch, time, features)).astype("float32")
    mask = np.arange(time)[None, :] < np.asarray(lengths)[:, None]
    layer = make(return_sequences=True, return_state=name.startswith("sru"))
    out = layer(x, mask=mask)
    sequence = out[0] if isinstance(out, (list, tuple)) else out
    assert tuple(sequence.shape) == (batch, time, layer.units if hasattr(layer, "units") else 6)
    junk = np.where(mask[..., None], x, 100.0).astype("float32")
    again = layer(junk, mask=mask)
    again = again[0] if isinstance(again, (list, tuple)) else again
    for i, length in enumerate(lengths):
        np.testing.assert_allclose(np.asarray(again)[i, :length], np.asarray(sequence)[i, :length], atol=1e-5)


def test_masked_max_pooling_ignores_padding():
    from keras_recurrent.layers import MaskedGlobalMaxPooling1D

    x = np.array([[[1.0, -5.0], [3.0, -2.0], [99.0, 99.0]], [[-1.0, -1.0], [0.0, 0.0], [0.0, 0.0]]], "float32")
    mask = np.array([[True, True, False], [True, False, False]])
    pooled = np.asarray(MaskedGlobalMaxPooling1D()(x, mask=mask))
    np.testing.assert_array_equal(pooled, [[3.0, -2.0], [-1.0, -1.0]])
    np.testing.assert_array_equal(np.asarray(MaskedGlobalMaxPooling1D()(x)), [[99.0, 99.0], [0.0, 0.0]])
    empty = np.asarray(MaskedGlobalMaxPooling1D()(x, mask=np.zeros((2, 3), bool)))
    np.testing.assert_array_equal(empty, np.zeros((2, 2)))


@pytest.mark.parametrize("make", [lambda **kw: SRU(6, **kw), lambda **kw: SRUpp(6, attention_dim=3, causal=True, **kw)])
def test_fused_and_scan_implementations_agree(make):
    """The hand-written gradient (compiled for training, plain for inference) equals autodiff of a plain scan."""
    rng = np.random.default_rng(13)
    x = tf.constant(rng.normal(size=(3, 6, 5)).astype("float32"))
    mask = tf.constant(np.arange(6)[None, :] < np.array([[6], [4], [1]]))
    scan = make(return_sequences=True, return_state=True, implementation="scan")
    fused = make(return_sequences=True, return_state=True)
    scan(x), fused(x)
    randomise(scan, rng)
    fused.set_weights(scan.get_weights())
    results = []
    for layer, training in ((scan, False), (fused, False), (fused, True)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, state = layer(x, mask=mask, training=training)
            # Masked steps differ by design (scan repeats the previous output, fused outputs zeros).
            loss = tf.reduce_sum(tf.where(mask[..., None], outputs, 0.0) ** 2) + tf.reduce_sum(state)
        grads = tape.gradient(loss, [x] + [w.value for w in layer.trainable_weights])
        results.append([np.asarray(g) for g in grads] + [np.asarray(state)])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("make,message", [
    (lambda: SRU(0), "units must be positive"),
    (lambda: SRU(4, implementation="cuda"), "implementation must be 'fused' or 'scan'"),
    (lambda: SRU(4, stateful=True), "does not support stateful"),
    (lambda: SRUpp(-1), "units must be positive"),
    (lambda: SRUpp(4, attention_dim=-2), "attention_dim must be positive"),
    (lambda: SRUpp(4, attention_dim=0), "attention_dim must be positive"),  # 0 is not "the default"
    (lambda: MogrifierLSTM(0), "units must be positive"),
    (lambda: MogrifierLSTM(4, rounds=-1), "rounds must be >= 0"),
    (lambda: MogrifierLSTM(4, rank=0), "rank must be positive"),
    (lambda: MogrifierLSTM(4, rank=-2), "rank must be positive"),
    (lambda: MogrifierLSTM(4, dropout=1.0), r"dropout must be in \[0, 1\)"),
    (lambda: MogrifierLSTM(4, dropout=1.5), r"dropout must be in \[0, 1\)"),
    (lambda: MogrifierLSTMCell(-3), "units must be positive"),  # the cell alone checks too
    (lambda: SRU(4, dropout=-0.1), r"dropout must be in \[0, 1\)"),
    (lambda: SRUpp(4, dropout=1.5), r"dropout must be in \[0, 1\)"),
])
def test_bad_layer_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_mogrifier_cell_alone_in_keras_rnn_saves_and_loads(tmp_path):
    """The cell is a Keras cell in its own right: inside `keras.layers.RNN` it keeps the paper's five
    rounds by default and survives a `.keras` round trip in safe mode (it is registered)."""
    from keras_recurrent.layers import MogrifierLSTMCell

    assert MogrifierLSTMCell(3).rounds == 5
    x = np.random.default_rng(12).normal(size=(2, 4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(MogrifierLSTMCell(5, rounds=2))])
    randomise(model.layers[0], np.random.default_rng(13))
    path = str(tmp_path / "cell.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_boundary_layer_arguments_are_accepted():
    """The smallest valid values: rank 1, zero rounds, no dropout; and the mogrifier's defaults."""
    x = np.ones((1, 3, 2), "float32")
    assert np.asarray(MogrifierLSTM(3, rank=1, rounds=0, dropout=0.0)(x)).shape == (1, 3)
    layer = MogrifierLSTM(3)
    layer(x)
    assert layer.dropout == 0.0 and len(layer.cell.mogrifier_kernels) == 5  # five rounds, as in the paper
    bias = np.asarray(layer.cell.bias)
    np.testing.assert_array_equal(bias[3:6], 1.0)  # unit forget bias: the forget gate starts open
    np.testing.assert_array_equal(np.delete(bias, np.s_[3:6]), 0.0)
    assert SRU(1, dropout=0.0).dropout == 0.0 and SRUpp(1, attention_dim=1).attention_dim == 1


@pytest.mark.parametrize("implementation", ["fused", "scan"])
@pytest.mark.parametrize("make", [lambda **kw: SRU(4, **kw), lambda **kw: SRUpp(4, attention_dim=2, causal=True, **kw)],
                         ids=["sru", "srupp"])
def test_initial_state_starts_the_recurrence_and_gets_its_gradient(make, implementation):
    """c_0 = s: the same as a reference started from s, and d loss / d s by finite differences."""
    rng = np.random.default_rng(17)
    x = rng.normal(size=(2, 5, 3))
    layer = make(return_sequences=True, dtype="float64", implementation=implementation)
    layer(x)
    randomise(layer, rng)
    s = rng.normal(size=(2, 4))
    probe = rng.normal(size=(2, 5, 4))
    started = np.asarray(layer(x, initial_state=[s]))
    assert not np.allclose(started, np.asarray(layer(x)))  # the initial state is used ...
    if isinstance(layer, SRU):  # ... as c_0 of the paper's recurrence
        u = x @ np.asarray(layer.kernel)
        v_f, v_r, b_f, b_r = (np.asarray(w) for w in (layer.v_f, layer.v_r, layer.b_f, layer.b_r))
        highway = x if layer.highway_kernel is None else x @ np.asarray(layer.highway_kernel)
        u_c, u_f, u_r = np.split(u, 3, axis=-1)
        c, expected = s, []
        for t in range(5):
            f = sigmoid(u_f[:, t] + v_f * c + b_f)
            r = sigmoid(u_r[:, t] + v_r * c + b_r)
            c = f * c + (1 - f) * u_c[:, t]
            expected.append(r * c + (1 - r) * layer.alpha * highway[:, t])
        np.testing.assert_allclose(started, np.stack(expected, 1), atol=1e-10)
    s_tensor = tf.constant(s)
    with tf.GradientTape() as tape:
        tape.watch(s_tensor)
        value = tf.reduce_sum(layer(tf.constant(x), initial_state=[s_tensor], training=True) * probe)
    grad = np.asarray(tape.gradient(value, s_tensor))
    eps = 1e-6
    for index in [(0, 0), (1, 3)]:
        up, down = s.copy(), s.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (np.sum(np.asarray(layer(x, initial_state=[up])) * probe)
                   - np.sum(np.asarray(layer(x, initial_state=[down])) * probe)) / (2 * eps)
        assert grad[index] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_mogrifier_return_state_is_the_last_h_and_c():
    rng = np.random.default_rng(18)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = MogrifierLSTM(4, rounds=3, return_sequences=True, return_state=True)
    layer(x)
    randomise(layer, rng)
    sequence, h, c = (np.asarray(t) for t in layer(x))
    np.testing.assert_allclose(h, sequence[:, -1], atol=1e-6)
    np.testing.assert_allclose(sequence, mogrifier_reference(x.astype("float64"), layer), atol=1e-5)
    # c is the cell state: continuing from (h, c) equals running the longer sequence in one go.
    more = rng.normal(size=(2, 2, 3)).astype("float32")
    continued = np.asarray(layer(more, initial_state=[h, c])[0])
    whole = np.asarray(layer(np.concatenate([x, more], axis=1))[0])
    np.testing.assert_allclose(continued, whole[:, 5:], atol=1e-5)


@pytest.mark.parametrize("name", ["sru", "srupp", "mogrifier"])
def test_compute_mask_follows_return_sequences_and_direction(name):
    make, _ = CASES[name]
    x = np.zeros((2, 4, 5), "float32")
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    assert make().compute_mask(x, mask) is None or make().compute_mask(x, mask) == [None, None]
    forward = make(return_sequences=True).compute_mask(x, mask)
    np.testing.assert_array_equal(np.asarray(forward), mask)
    if name != "mogrifier":  # Keras's RNN base class owns the mogrifier's reversed mask
        backward = make(return_sequences=True, go_backwards=True).compute_mask(x, mask)
        np.testing.assert_array_equal(np.asarray(backward), mask[:, ::-1])


def test_padding_flows_through_stacked_custom_layers():
    """Embedding(mask_zero) -> SRU -> SRU++ -> Mogrifier: padded positions change nothing downstream."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 5, mask_zero=True)(tokens)
    x = SRU(6, return_sequences=True)(x)
    x = SRUpp(6, attention_dim=3, return_sequences=True)(x)
    out = MogrifierLSTM(4, rounds=2)(x)
    model = keras.Model(tokens, out)
    rng = np.random.default_rng(19)
    model(np.ones((1, 3), "int32"))
    for layer in model.layers[2:]:
        randomise(layer, rng, scale=0.3)
    batch = np.array([[3, 4, 5, 0, 0], [7, 8, 0, 0, 0]], "int32")
    together = np.asarray(model(batch))
    np.testing.assert_allclose(together[0], np.asarray(model(batch[:1, :3]))[0], atol=1e-5)
    np.testing.assert_allclose(together[1], np.asarray(model(batch[1:, :2]))[0], atol=1e-5)

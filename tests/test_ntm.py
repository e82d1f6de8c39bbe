"""The Neural Turing Machine against a NumPy transcription of its equations, and its numerical safety."""

import numpy as np
import pytest

from keras_recurrent.layers import NTM, NTMCell


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _reference(cell, inputs):
    """The NTM of the paper, step by step, with loops where the equations have sums."""
    n, w, r, k, s = cell.memory_size, cell.memory_width, cell.read_heads, cell.write_heads, cell.shift_range
    values = {v.path: np.asarray(v, np.float64) for v in cell.weights}

    def get(*parts):
        return next(val for path, val in values.items() if path.split("/")[-len(parts):] == list(parts))

    batch, steps, _ = inputs.shape
    eps = 1e-8
    reads = np.tile(get("initial_reads"), (batch, 1)).reshape(batch, r, w)
    read_w = np.tile(_softmax(get("initial_read_logits").reshape(r, n)), (batch, 1, 1))
    write_w = np.tile(_softmax(get("initial_write_logits").reshape(max(k, 1), n)), (batch, 1, 1))[:, :k]
    memory = np.full((batch, n, w), 1e-6)
    h = np.zeros((batch, cell.controller_units))
    c = np.zeros_like(h)
    outputs = []
    for t in range(steps):
        x = np.concatenate([inputs[:, t], reads.reshape(batch, -1)], -1)
        if cell.controller_kind == "lstm":
            z = x @ get("controller", "kernel") + h @ get("controller", "recurrent_kernel") + get("controller", "bias")
            i, f, g, o = np.split(z, 4, -1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            out = h
        else:
            out = np.maximum(x @ get("controller", "kernel") + get("controller", "bias"), 0.0)
        out = np.clip(out, -cell.controller_clip, cell.controller_clip)
        params = out @ get("heads", "kernel") + get("heads", "bias")
        new_weights = []
        previous = np.concatenate([read_w, write_w], 1)
        width = w + 3 + 2 * s + 1
        for head in range(r + k):
            p = params[:, head * width:(head + 1) * width]
            key, beta, gate = np.tanh(p[:, :w]), _softplus(p[:, w]), _sigmoid(p[:, w + 1])
            shift, gamma = _softmax(p[:, w + 2: w + 3 + 2 * s]), 1.0 + _softplus(p[:, -1])
            weighting = np.zeros((batch, n))
            for b in range(batch):
                cosine = np.array([key[b] @ memory[b, i] / (np.sqrt(key[b] @ key[b] + eps) * np.sqrt(memory[b, i] @ memory[b, i] + eps))
                                   for i in range(n)])
                content = _softmax(beta[b] * cosine)
                gated = gate[b] * content + (1 - gate[b]) * previous[b, head]
                shifted = np.array([sum(shift[b, d + s] * gated[(i - d) % n] for d in range(-s, s + 1)) for i in range(n)])
                sharp = (shifted + eps) ** gamma[b]
                weighting[b] = sharp / sharp.sum()
            new_weights.append(weighting)
        read_w = np.stack(new_weights[:r], 1)
        reads = np.einsum("bhn,bnw->bhw", read_w, memory)
        write_w = np.stack(new_weights[r:], 1) if k else write_w
        offset = (r + k) * width
        for head in range(k):
            erase = _sigmoid(params[:, offset + head * 2 * w: offset + head * 2 * w + w])
            add = np.tanh(params[:, offset + head * 2 * w + w: offset + (head + 1) * 2 * w])
            for b in range(batch):
                memory[b] = memory[b] * (1 - np.outer(write_w[b, head], erase[b])) + np.outer(write_w[b, head], add[b])
        outputs.append(np.concatenate([out, reads.reshape(batch, -1)], -1) @ get("readout", "kernel") + get("readout", "bias"))
    return np.stack(outputs, 1), memory


def _randomised(layer, rng, scale=0.5):
    for v in layer.weights:
        v.assign(rng.normal(0.0, scale, v.shape).astype("float32"))


@pytest.mark.parametrize("controller,read_heads,write_heads,shift_range", [("lstm", 1, 1, 1), ("dense", 2, 2, 2), ("lstm", 1, 0, 1)])
def test_ntm_matches_its_equations(controller, read_heads, write_heads, shift_range):
    rng = np.random.default_rng(0)
    layer = NTM(5, memory_size=7, memory_width=4, read_heads=read_heads, write_heads=write_heads, controller_units=6,
                controller=controller, shift_range=shift_range, return_sequences=True)
    inputs = rng.normal(size=(2, 6, 3)).astype("float32")
    layer(inputs)
    _randomised(layer, rng)
    expected, memory = _reference(layer.cell, inputs.astype("float64"))
    np.testing.assert_allclose(np.asarray(layer(inputs)), expected, atol=1e-5)
    np.testing.assert_allclose(layer.trace(inputs)["memory"][:, -1], memory, atol=1e-5)


def test_weightings_are_distributions_and_trace_matches_the_layer():
    rng = np.random.default_rng(1)
    layer = NTM(4, memory_size=9, memory_width=3, controller_units=8, return_sequences=True)
    inputs = rng.normal(size=(3, 8, 2)).astype("float32")
    layer(inputs)
    _randomised(layer, rng)
    trace = layer.trace(inputs)
    np.testing.assert_allclose(trace["outputs"], np.asarray(layer(inputs)), atol=1e-6)
    for name in ("read_weightings", "write_weightings"):
        assert np.all(trace[name] >= 0) and np.allclose(trace[name].sum(-1), 1.0, atol=1e-5)


def test_zero_memory_zero_keys_and_long_sequences_stay_finite():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    layer = NTM(4, memory_size=8, memory_width=3, controller_units=8)
    inputs = np.zeros((2, 5, 2), "float32")
    layer(inputs)
    for v in layer.weights:  # zero weights: keys tanh(0) = 0 against memory rows of 1e-6
        v.assign(np.zeros(v.shape, "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(inputs))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads if g is not None)
    _randomised(layer, rng, scale=2.0)  # large weights: saturated gates, sharp weightings
    long = rng.normal(size=(2, 250, 2)).astype("float32") * 3
    with tf.GradientTape() as tape:
        out = layer(long)
        loss = tf.reduce_sum(out)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert np.isfinite(np.asarray(out)).all()
    assert all(np.isfinite(np.asarray(g)).all() for g in grads if g is not None)


def test_masked_steps_change_nothing():
    import keras

    rng = np.random.default_rng(3)
    layer = NTM(4, memory_size=6, memory_width=3, controller_units=8)
    inputs = rng.normal(size=(2, 7, 2)).astype("float32")
    layer(inputs)
    _randomised(layer, rng)
    padded = np.concatenate([np.zeros((2, 3, 2), "float32"), inputs], 1)  # left padding: the recurrence must skip it
    masked = keras.layers.Masking()(padded)
    np.testing.assert_allclose(np.asarray(layer(masked)), np.asarray(layer(inputs)), atol=1e-6)


def test_round_trip_with_trained_like_weights(tmp_path):
    import keras

    rng = np.random.default_rng(4)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, NTM(5, memory_size=6, memory_width=4, controller_units=7, controller="dense",
                                    read_heads=2, return_sequences=True)(inputs))
    _randomised(model, rng)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    model.save(tmp_path / "ntm.keras")
    loaded = keras.saving.load_model(tmp_path / "ntm.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    config = loaded.layers[-1].get_config()
    assert (config["read_heads"], config["controller"], config["memory_size"]) == (2, "dense", 6)


@pytest.mark.parametrize("bad", [dict(units=0), dict(memory_size=2, shift_range=1), dict(read_heads=0),
                                 dict(controller="gru"), dict(write_heads=-1)])
def test_bad_arguments_are_refused(bad):
    settings = dict(units=4, memory_size=8, memory_width=3) | bad
    with pytest.raises(ValueError):
        NTMCell(**settings)


def test_dropout_is_one_mask_per_sequence_and_only_in_training(monkeypatch):
    import keras

    rng = np.random.default_rng(5)
    layer = NTM(4, memory_size=6, memory_width=3, controller_units=8, dropout=0.5, seed=1, return_sequences=True)
    inputs = np.ones((64, 4, 6), "float32")
    layer(inputs)
    _randomised(layer, rng)
    np.testing.assert_allclose(np.asarray(layer(inputs)), np.asarray(layer(inputs, training=False)), atol=0)
    dropped = []
    real_dropout = keras.random.dropout

    def recording(x, rate, noise_shape=None, seed=None):
        out = real_dropout(x, rate, noise_shape=noise_shape, seed=seed)
        dropped.append(np.asarray(out))
        return out

    monkeypatch.setattr(keras.random, "dropout", recording)
    trained = np.asarray(layer(inputs, training=True))
    (seen,) = dropped
    zeros = seen == 0
    assert all(np.array_equal(zeros[:, 0], zeros[:, t]) for t in range(1, 4))  # the same mask at every step
    assert 0.3 < zeros.mean() < 0.7 and not np.allclose(trained, np.asarray(layer(inputs)))

"""ConvLSTM (Shi et al. 2015): the paper's equations with peepholes, Keras's ConvLSTM2D without them,
masking, gradients and a `.keras` round trip with every weight random."""

import keras
import numpy as np
import pytest

from keras_recurrent.layers import ConvLSTM, ConvLSTMCell


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _conv_same(x, kernel):
    """2-D convolution (cross-correlation, as Keras computes it) with zero 'same' padding, in NumPy."""
    kr, kc, _, out = kernel.shape
    batch, rows, cols, _ = x.shape
    padded = np.pad(x, ((0, 0), ((kr - 1) // 2, kr // 2), ((kc - 1) // 2, kc // 2), (0, 0)))
    result = np.zeros((batch, rows, cols, out))
    for a in range(kr):
        for b in range(kc):
            result += np.einsum("nrci,io->nrco", padded[:, a:a + rows, b:b + cols], kernel[a, b])
    return result


def _reference(weights, x, filters, peepholes):
    """Equation 3 of the paper, step by step; returns every H and the final C."""
    kernel, recurrent, bias = weights[:3]
    w_ci, w_cf, w_co = weights[3:] if peepholes else (0.0, 0.0, 0.0)
    batch, steps, rows, cols, _ = x.shape
    h = np.zeros((batch, rows, cols, filters))
    c = np.zeros_like(h)
    outputs = []
    for t in range(steps):
        z = _conv_same(x[:, t], kernel) + _conv_same(h, recurrent) + bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        i = _sigmoid(z_i + w_ci * c)
        f = _sigmoid(z_f + w_cf * c)
        c = f * c + i * np.tanh(z_c)
        o = _sigmoid(z_o + w_co * c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), c


def _randomise(layer, rng, scale=0.4):
    layer.set_weights([rng.normal(0.0, scale, w.shape).astype("float32") for w in layer.get_weights()])


FRAMES = np.random.default_rng(0).normal(size=(2, 4, 6, 5, 3)).astype("float32")


@pytest.mark.parametrize("kernel_size", [3, (3, 1)])
def test_peephole_layer_matches_the_papers_equations(kernel_size):
    layer = ConvLSTM(4, kernel_size, peepholes=True, return_sequences=True, return_state=True)
    layer.build(FRAMES.shape)
    _randomise(layer, np.random.default_rng(1))
    assert [w.name for w in layer.weights][3:] == ["peephole_i", "peephole_f", "peephole_o"]
    assert tuple(layer.weights[3].shape) == (6, 5, 4)  # one weight per position and channel (Hadamard)
    outputs, h, c = layer(FRAMES)
    expected, expected_c = _reference(layer.get_weights(), FRAMES.astype("float64"), 4, peepholes=True)
    np.testing.assert_allclose(np.asarray(outputs), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), expected[:, -1], atol=1e-5)
    np.testing.assert_allclose(np.asarray(c), expected_c, atol=1e-5)


def test_without_peepholes_it_is_keras_conv_lstm2d():
    ours = ConvLSTM(4, 3, peepholes=False, return_sequences=True, return_state=True)
    theirs = keras.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True, return_state=True)
    ours.build(FRAMES.shape)
    theirs.build(FRAMES.shape)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    _randomise(theirs, np.random.default_rng(2))
    ours.set_weights(theirs.get_weights())
    for a, b in zip(ours(FRAMES), theirs(FRAMES)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    expected, _ = _reference(ours.get_weights(), FRAMES.astype("float64"), 4, peepholes=False)
    np.testing.assert_allclose(np.asarray(ours(FRAMES)[0]), expected, atol=1e-5)
    # The forget gate starts open, as in Keras's LSTMs.
    fresh = ConvLSTMCell(2, 3)
    fresh.build((None, 6, 5, 3))
    np.testing.assert_array_equal(np.asarray(fresh.bias), [0, 0, 1, 1, 0, 0, 0, 0])


def test_masked_steps_keep_the_state():
    """Left padding: masked steps come first, so a layer that ignored the mask would carry them in."""
    layer = ConvLSTM(3, 3, return_sequences=False)
    layer.build(FRAMES.shape)
    _randomise(layer, np.random.default_rng(3))
    padded = np.concatenate([np.full((2, 2, 6, 5, 3), 5.0, "float32"), FRAMES], axis=1)
    mask = np.array([[False, False] + [True] * 4] * 2)
    np.testing.assert_allclose(np.asarray(layer(padded, mask=mask)), np.asarray(layer(FRAMES)), atol=1e-5)
    assert not np.allclose(np.asarray(layer(padded)), np.asarray(layer(FRAMES)), atol=1e-3)


def test_initial_state_and_gradients_reach_every_weight():
    import tensorflow as tf

    layer = ConvLSTM(3, 3, return_sequences=True)
    layer.build(FRAMES.shape)
    _randomise(layer, np.random.default_rng(4))
    h0 = tf.Variable(np.random.default_rng(5).normal(size=(2, 6, 5, 3)).astype("float32"))
    c0 = tf.Variable(np.zeros((2, 6, 5, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(FRAMES, initial_state=[h0, c0]) ** 2)
    grads = tape.gradient(loss, [*layer.trainable_variables, h0])
    assert len(grads) == 7  # kernel, recurrent kernel, bias, three peepholes, and H0
    for variable, grad in zip([*layer.trainable_variables, h0], grads):
        assert grad is not None and np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0, variable.name
    # A different starting state changes the outputs.
    assert not np.allclose(np.asarray(layer(FRAMES, initial_state=[h0, c0])), np.asarray(layer(FRAMES)), atol=1e-3)


def test_round_trip_with_every_weight_random(tmp_path):
    inputs = keras.Input((None, 6, 5, 3))
    encoded, h, c = ConvLSTM(4, 3, return_state=True, name="encoder")(inputs)
    outputs = keras.layers.Conv2D(1, 1)(keras.layers.Concatenate()([encoded, c]))
    model = keras.Model(inputs, outputs)
    _randomise(model.get_layer("encoder"), np.random.default_rng(6))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(FRAMES, verbose=0), model.predict(FRAMES, verbose=0), atol=1e-6)
    layer = model.get_layer("encoder")
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("bad", [dict(filters=0), dict(filters=-2), dict(filters=4, kernel_size=0),
                                 dict(filters=4, kernel_size=(3, 3, 3)), dict(filters=4, kernel_size=(3,))])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        ConvLSTM(**bad)


def test_frames_need_known_sizes():
    with pytest.raises(ValueError, match="rows, columns"):
        ConvLSTM(4)(keras.Input((5, None, 8, 1)))
    with pytest.raises(ValueError, match="expects"):
        ConvLSTM(4).build((2, 5, 8, 1))


def test_the_cell_alone_in_keras_rnn_and_the_layers_defaults(tmp_path):
    """The cell works without the layer (raw frames in, both convolutions in the step), saves and loads on
    its own, and agrees with the layer; the layer's defaults are the paper's (3 x 3 kernels, peepholes)
    and Keras's (forget gate open)."""
    layer = ConvLSTM(4)
    layer.build(FRAMES.shape)
    _randomise(layer, np.random.default_rng(7))
    assert layer.filters == 4 and tuple(layer.cell.kernel.shape) == (3, 3, 3, 16) and layer.cell.peepholes
    assert tuple(ConvLSTM(1)(FRAMES).shape) == (2, 6, 5, 1)  # one filter is a valid layer
    fresh = ConvLSTM(2)
    fresh.build(FRAMES.shape)
    np.testing.assert_array_equal(np.asarray(fresh.cell.bias), [0, 0, 1, 1, 0, 0, 0, 0])
    expected = np.asarray(layer(FRAMES))  # the layer ran: its cell must be back to reading raw frames
    inputs = keras.Input(FRAMES.shape[1:])
    rnn = keras.layers.RNN(ConvLSTMCell(4), name="rnn")
    model = keras.Model(inputs, rnn(inputs))
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(model.predict(FRAMES, verbose=0), expected, atol=1e-5)
    h, _ = layer.cell(FRAMES[:, 0], layer.cell.get_initial_state(2))
    h_alone, _ = rnn.cell(FRAMES[:, 0], rnn.cell.get_initial_state(2))
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_alone), atol=1e-6)
    path = str(tmp_path / "cell.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path, safe_mode=True).predict(FRAMES, verbose=0), expected, atol=1e-5)

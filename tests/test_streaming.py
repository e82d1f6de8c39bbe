"""Streaming: a trained sequence model run one step at a time, and its exports.

The step model must equal the full-sequence model at every step, for every recurrent layer that can
stream; sampling through exported step models (SavedModel, TFLite) must draw the same characters as
the Keras model from the same seed, including past the attention window of SRU++.
"""

import keras
import numpy as np
import pytest

from keras_recurrent.layers import SRU, MogrifierLSTM, SRUpp
from keras_recurrent.layers.streaming import StepModel, run_steps

LAYERS = {
    "simple_rnn": lambda: keras.layers.SimpleRNN(6, return_sequences=True),
    "lstm": lambda: keras.layers.LSTM(6, return_sequences=True),
    "gru": lambda: keras.layers.GRU(6, return_sequences=True),
    "gru_reset_before": lambda: keras.layers.GRU(6, return_sequences=True, reset_after=False),
    "mogrifier": lambda: MogrifierLSTM(6, return_sequences=True),
    "sru": lambda: SRU(6, return_sequences=True),
    "sru_same_width": lambda: SRU(5, return_sequences=True),  # highway without projection
    "srupp_causal": lambda: SRUpp(6, attention_dim=3, causal=True, return_sequences=True),
}


def _randomised(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "float" in str(w.dtype):
            w.assign(rng.normal(0.0, 0.4, w.shape).astype(w.dtype))
    return model


def _stack(make, vocabulary=11):
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, 5)(tokens)
    x = make()(x)
    x = keras.layers.Dropout(0.5)(x)
    x = make()(x)  # two recurrent layers: the states of both are carried
    x = keras.layers.LayerNormalization()(x)
    return _randomised(keras.Model(tokens, keras.layers.Dense(vocabulary)(x)))


@pytest.mark.parametrize("kind", LAYERS)
def test_step_model_equals_the_full_model_at_every_step(kind):
    model = _stack(LAYERS[kind])
    tokens = np.random.default_rng(1).integers(0, 11, (3, 9)).astype("int32")
    stepper = StepModel(model, context=9)
    np.testing.assert_allclose(np.asarray(run_steps(stepper, tokens)), np.asarray(model(tokens)), atol=1e-5)


def test_step_model_on_float_inputs():
    inputs = keras.Input((None, 4))
    model = _randomised(keras.Model(inputs, keras.layers.Dense(2)(SRU(6, return_sequences=True)(inputs))))
    x = np.random.default_rng(2).normal(size=(2, 7, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(run_steps(StepModel(model), x)), np.asarray(model(x)), atol=1e-5)


def test_srupp_attends_to_a_sliding_window_past_its_context():
    model = _stack(LAYERS["srupp_causal"])
    tokens = np.random.default_rng(3).integers(0, 11, (2, 12)).astype("int32")
    full = np.asarray(model(tokens))
    within = np.asarray(run_steps(StepModel(model, context=12), tokens))
    short = np.asarray(run_steps(StepModel(model, context=4), tokens))
    np.testing.assert_allclose(within, full, atol=1e-5)
    np.testing.assert_allclose(short[:, :4], full[:, :4], atol=1e-5)  # the cache is not full yet
    assert np.abs(short[:, 4:] - full[:, 4:]).max() > 1e-3  # then the oldest keys leave the window


@pytest.mark.parametrize("make,message", [
    (lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)), "mixes time steps"),
    (lambda: SRUpp(4, causal=False, return_sequences=True), "only a causal SRUpp"),
    (lambda: keras.layers.GRU(4, return_sequences=True, go_backwards=True), "reads its sequence backwards"),
    (lambda: keras.layers.Conv1D(4, 3, padding="causal"), "mixes time steps"),
])
def test_models_that_need_the_future_are_refused(make, message):
    tokens = keras.Input((None,), dtype="int32")
    model = keras.Model(tokens, make()(keras.layers.Embedding(5, 3)(tokens)))
    with pytest.raises(ValueError, match=message):
        StepModel(model)


def test_a_model_that_ends_in_one_vector_is_refused():
    tokens = keras.Input((None,), dtype="int32")
    model = keras.Model(tokens, keras.layers.LSTM(4)(keras.layers.Embedding(5, 3)(tokens)))
    with pytest.raises(ValueError, match="one vector per sequence"):
        StepModel(model)


def test_exported_step_models_sample_the_same_characters(tmp_path):
    """Sampling through the SavedModel's and the TFLite model's `step` gives the Keras model's text."""
    import tensorflow as tf

    from keras_recurrent.pipelines import exporting as ex
    from keras_recurrent.pipelines.config import resolve_config
    from keras_recurrent.tasks import get_task
    from keras_recurrent.tasks.language_model import sample

    task = get_task("language_model")
    config = resolve_config(task, model="srupp", quick=True)
    data = task.load(None, config.data, 0)
    info = dict(data.info, sequence_length=8)  # a short window, so 40 characters run far past it
    model = _randomised(task.models.build("srupp", config.model, info))
    inputs = ex._real_inputs(data.test, 4)[:, :8]
    ex._export_savedmodel(task, model, info, inputs, str(tmp_path))
    lite = ex._export_tflite(task, model, info, inputs, str(tmp_path), "none", None)
    stepper = next(e for e in task.endpoints(model, info) if isinstance(e, StepModel))

    def saved_step(reloaded):
        def step(ids, states):
            outputs = reloaded.step(tf.constant(ids), *[tf.constant(s) for s in states])
            return np.asarray(outputs[0]), [np.asarray(s) for s in outputs[1:]]
        return step

    def lite_step(runner):
        step_fn = ex.tflite_step(runner, stepper)

        def step(ids, states):
            outputs = step_fn(ids, *states)
            return outputs[0], outputs[1:]
        return step

    keras_text = sample(model, "the ", info, 40, 1.0, seed=7)
    reloaded = tf.saved_model.load(str(tmp_path / "savedmodel"))
    saved_text = sample(model, "the ", info, 40, 1.0, seed=7, step_fn=saved_step(reloaded),
                        states=stepper.initial_states(1))
    runner = ex.interpreter(open(lite["step"]["path"], "rb").read())
    lite_text = sample(model, "the ", info, 40, 1.0, seed=7, step_fn=lite_step(runner), states=stepper.initial_states(1))
    assert len(keras_text) == 40 and keras_text == saved_text == lite_text
    assert sample(model, "the ", info, 40, 1.0, seed=8) != keras_text  # the seed matters

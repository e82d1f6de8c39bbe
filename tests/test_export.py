"""Export of every model of every task family: SavedModel and TFLite (built-in ops only) match the Keras model.

Parametrised over the task registry, so a task added later is covered without touching this file.
The models are built with the task's quick settings and random weights (not the zeros some layers
start from), and compared on real inputs of the task's data.
"""

import json
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import exporting as ex
from keras_recurrent.pipelines.cli import main
from keras_recurrent.pipelines.config import resolve_config
from keras_recurrent.tasks import get_task, model_families

def _export_models(task_name):
    """Each custom layer of the shared registry exports in sentiment (masked, pooled, bidirectional where
    the default is) and in the language model (whose models also export a streaming step model per layer);
    of Keras's own layers, the defaults (a BiGRU, an LSTM with its two-tensor state) and sentiment's masked
    LSTM: the GRU, BiLSTM and SimpleRNN convert through the same Keras paths. bAbI exports both its
    models (its LSTM reader is its own builder); every other family its default model and the models only
    it builds. Tasks sharing their builders (sort / convex_hull / tsp, copy / associative_recall) differ
    only in input width: the family's first task stands for them."""
    from keras_recurrent.tasks.encoders import RECURRENT_ENCODERS

    task = get_task(task_name)
    keras_own = {"simple_rnn", "gru", "bilstm", "bigru", "lstm"}
    if task_name in ("sentiment", "language_model"):
        return [m for m in task.models if m == task.models.default or m not in keras_own or (task_name, m) == ("sentiment", "lstm")]
    if task_name == "babi":
        return list(task.models)
    return [m for m in task.models if m == task.models.default or m not in RECURRENT_ENCODERS]


CASES = [(t, m) for t in model_families() for m in _export_models(t)]
_DATA = {}


def _model_and_inputs(task_name, model_name):
    task = get_task(task_name)
    config = resolve_config(task, model=model_name, quick=True)
    if task_name not in _DATA:
        _DATA[task_name] = task.load(None, config.data, 0)
    data = _DATA[task_name]
    model = task.models.build(model_name, config.model, data.info)
    rng = np.random.default_rng(0)
    for w in model.weights:
        if "float" in str(w.dtype):
            w.assign(rng.normal(0.0, 0.3, w.shape).astype(w.dtype))
    return task, model, data.info, ex._real_inputs(data.test, 8)


@pytest.mark.parametrize("task_name,model_name", CASES)
def test_savedmodel_and_tflite_match_keras(task_name, model_name, tmp_path):
    task, model, info, inputs = _model_and_inputs(task_name, model_name)
    saved = ex._export_savedmodel(task, model, info, inputs, str(tmp_path))
    names = [e.name for e in ex.signatures(task, model, info)]
    # Every signature checked on real inputs, each against its Python reference.
    assert set(names) <= set(saved["signatures"]) and names[0] == "serve"
    assert all(saved[name]["agreement"] == 1.0 or name == "caption" for name in names)
    assert saved["serve"]["max_abs_diff"] <= ex.SAVEDMODEL_TOLERANCE and saved["serve"]["examples"] == len(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
    if "serve_text" in names:
        assert saved["serve_text"]["max_abs_diff"] <= ex.SAVEDMODEL_TOLERANCE
    lite = ex._export_tflite(task, model, info, inputs, str(tmp_path), "none", None)
    assert lite["max_abs_diff"] <= ex.TFLITE_TOLERANCE
    assert not [op for op in lite["ops"] if op.startswith("Flex") or op == "CUSTOM"]
    assert os.path.getsize(tmp_path / "model.tflite") == lite["bytes"]
    assert json.loads((tmp_path / "model.tflite.json").read_text())["ops"] == lite["ops"]
    # Models that can stream also export their one-step model, checked step by step against the full one.
    if "step" in names:
        assert saved["step"]["max_abs_diff"] <= ex.SAVEDMODEL_TOLERANCE and saved["step"]["examples"] == ex.STEP_EXAMPLES
        assert lite["step"]["max_abs_diff"] <= ex.TFLITE_TOLERANCE
        assert not [op for op in lite["step"]["ops"] if op.startswith("Flex") or op == "CUSTOM"]
        assert os.path.getsize(tmp_path / "model_step.tflite") == lite["step"]["bytes"]
    else:
        assert "step" not in saved["signatures"] and "step" not in lite


def test_text_endpoint_takes_raw_strings(tmp_path):
    import tensorflow as tf

    task, model, info, inputs = _model_and_inputs("sentiment", "bigru")
    ex._export_savedmodel(task, model, info, inputs, str(tmp_path))
    served = tf.saved_model.load(str(tmp_path / "savedmodel"))
    texts = ["the plot was not bad", "a dull and boring film"]
    got = served.serve_text(tf.constant(texts)).numpy()
    from keras_recurrent.tasks.sentiment import make_vectorizer

    ids = np.asarray(make_vectorizer(info)(np.asarray(texts, dtype=object)), dtype="int32")
    np.testing.assert_allclose(got, np.asarray(model(ids)), atol=1e-5)
    assert got.shape == (2, 1) and not np.allclose(got[0], got[1])


@pytest.fixture
def quick_run(quick_sentiment_run):
    return quick_sentiment_run


def test_export_through_the_command_line(quick_run, capsys):
    assert main(["export", quick_run, "--format", "tflite", "--quantize", "dynamic", "--quiet"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == os.path.join(quick_run, "export", "model-dynamic.tflite") and os.path.isfile(path)
    report = json.loads(open(path + ".json").read())
    assert report["quantize"] == "dynamic" and report["max_abs_diff"] < 0.05  # reported, not required to be tiny
    assert main(["export", quick_run, "--quiet"]) == 0
    assert os.path.isdir(os.path.join(quick_run, "export", "savedmodel"))


@pytest.mark.parametrize("args,message", [
    (["--format", "onnx"], "--format 'onnx': expected one of savedmodel, tflite"),
    (["--quantize", "int4", "--format", "tflite"], "--quantize 'int4': expected one of"),
    (["--quantize", "dynamic"], "--quantize applies to --format tflite"),
])
def test_bad_export_options_are_one_line(quick_run, capsys, args, message):
    before = sorted(os.listdir(quick_run))
    assert main(["export", quick_run, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert sorted(os.listdir(quick_run)) == before


def test_export_of_a_missing_or_unfinished_run(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    assert main(["export", str(tmp_path / "half")]) == 2
    assert "not a finished run" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "half")) == ["config.json"]


def test_int8_is_refused_with_the_reason(quick_run, capsys):
    assert main(["export", quick_run, "--format", "tflite", "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot take --quantize int8" in err and "dynamic or float16" in err
    assert not os.path.exists(os.path.join(quick_run, "export", "model-int8.tflite"))

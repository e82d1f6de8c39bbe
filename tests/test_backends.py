"""Every layer, in every model family, trains, saves, loads and predicts under the JAX backend too; the
default models of the tasks whose training has machinery of its own also resume exactly under JAX, are
found finished when trained again and re-evaluate to the same metrics (RESUME_CHECKED).

The families run in one child process with KERAS_BACKEND=jax (tests/backend_matrix.py), which imports TensorFlow and JAX once; this process,
on TensorFlow, then reloads each model file the JAX run saved and checks it computes the same
outputs: the layers are backend-agnostic and their saved files move between backends.
The shards cover the task registry's families, so a task added later is covered without touching this file.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from keras_recurrent.tasks import get_task, model_families

pytest.importorskip("jax")
MATRIX = pathlib.Path(__file__).with_name("backend_matrix.py")


def _numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "train_seconds_this_process"}


# Exact resume under JAX, with dropout on: sentiment (the pipeline's shuffle and the backend's random
# streams, which every other task uses unchanged: forecasting's by-index shuffle is tf.data under any
# backend) and bAbI (task callbacks that assign the model's variables: linear start, the rate schedule).
RESUME_CHECKED = {"sentiment", "babi"}


def _holds_a_project_layer(task, model_name: str) -> bool:
    """Whether the model, built with the task's quick settings, holds a layer of this project (a custom
    layer, or one a task defines) rather than Keras's own layers only."""
    from keras_recurrent.pipelines.config import resolve_config

    config = resolve_config(task, model=model_name, quick=True)
    model = task.models.build(model_name, config.model, task.load(None, config.data, 0).info)
    return any(type(layer).__module__.startswith("keras_recurrent") for layer in model._flatten_layers())


def jax_models(task_name: str) -> list:
    """Every layer of this project runs under JAX, each in one model (no layer compiled twice for the same
    check): the adding task runs one model per recurrent layer of the shared registry (its runs are the
    cheapest of the tasks that offer them all; the NTM runs as the copy task's model, the causal SRU++ as
    the language model's); every other task runs the models only it builds that hold a layer of this
    project (pointer, memory networks, ConvLSTM, attention), or else its default model, so each task's own
    pipeline (losses, metrics, callbacks) runs under JAX too. Models made of Keras's layers alone are left
    to Keras's own tests."""
    from keras_recurrent.tasks.encoders import RECURRENT_ENCODERS

    task = get_task(task_name)
    if task_name == "adding":
        return ["mogrifier", "sru", "srupp"]
    own = {"language_model": ["srupp"]}.get(task_name, [])  # causal attention: built there only
    models = [m for m in task.models if m in own or (m not in RECURRENT_ENCODERS and _holds_a_project_layer(task, m))]
    if task.models.default not in models and (not models or task_name in RESUME_CHECKED):
        models.insert(0, task.models.default)
    return models


# Seconds each family's child work took (2-core CPU, JAX 0.4 / Keras 3.15, the XLA flags below): the shards below balance on them;
# a family not listed counts as 20.
COST = {"captioning": 39, "adding": 35, "sentiment": 26, "babi": 19, "copy": 15, "language_model": 13,
        "forecasting": 12, "sort": 8, "video": 7}
SHARDS = 1  # the tests of a file run on one worker (tests/conftest.py), so shards would run one after the other


def shards() -> list[list[str]]:
    """The model families split into SHARDS lists of about equal cost (the longest first, each to the lightest)."""
    parts, load = [[] for _ in range(SHARDS)], [0.0] * SHARDS
    for family in sorted(model_families(), key=lambda f: -COST.get(f, 20)):
        lightest = load.index(min(load))
        parts[lightest].append(family)
        load[lightest] += COST.get(family, 20)
    return parts


@pytest.mark.slow
@pytest.mark.backend
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_model_runs_under_jax(shard, tmp_path):
    """Every family of the shard in one child process; each family's checks below, failures named by family."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               # The child trains the same model several times (resume, the finished run found, evaluate):
               # XLA compiles each step once and reads it back from this cache after (a third of the time).
               JAX_COMPILATION_CACHE_DIR=str(tmp_path / "xla-cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
               # These runs are a few steps on tiny data: XLA's own compile time dominates them, and without
               # LLVM's optimisation passes it falls by a sixth (the outputs still match TensorFlow's).
               XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")
    families = shards()[shard]
    models = {name: jax_models(name) for name in families}
    specs = [f"{name}:{','.join(models[name])}:{'resume' if name in RESUME_CHECKED else ''}" for name in families]
    done = subprocess.run([sys.executable, str(MATRIX), str(tmp_path), *specs], env=env,
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in families:
        error = tmp_path / name / "error.txt"
        assert not error.exists(), f"{name} under JAX:\n{error.read_text()[-3000:] if error.exists() else ''}"
        check_family(name, models[name], tmp_path / name)


def check_family(task_name: str, models: list, out: pathlib.Path) -> None:
    from keras_recurrent.pipelines import load_run

    report = json.loads((out / "report.json").read_text())
    assert report["backend"] == "jax"
    task = get_task(task_name)
    check_resume = task_name in RESUME_CHECKED
    assert set(report["models"]) == set(models), task_name
    if check_resume:
        assert report["resume"]["resumed_from_epoch"] == 1, task_name
        assert report["resume"]["resumed"] == report["resume"]["reference"], task_name  # exact, as under TensorFlow
    for model_name, result in report["models"].items():
        trained = _numbers(result["metrics"])
        assert trained and all(math.isfinite(v) for v in trained.values()), (task_name, model_name, trained)
        assert result["history_rows"] == result["metrics"]["epochs_trained"], (task_name, model_name)
        if check_resume and model_name == task.models.default:
            assert result["second_call_found_finished"], (task_name, model_name)
            evaluated = _numbers(result["evaluated"])
            for key, value in trained.items():
                assert evaluated[key] == pytest.approx(value, rel=1e-4, abs=1e-5), (task_name, model_name, key)
        # At least a row an input (a forecast has one a future step).
        assert len(result["predictions"]) >= len(task.predict_examples(_info(out / model_name))), (task_name, model_name)
        # The file saved under JAX, loaded here under TensorFlow, computes the same outputs.
        probe = np.load(out / model_name / "probe.npz")
        inputs = [probe[f"arr_{i}"] for i in range(len(probe.files) - 1)]
        # Through the project's loader: a run's model.keras may hold its optimizer (bAbI's spectral clip),
        # registered by keras_recurrent.pipelines, which this process need not have imported yet.
        model = load_run(str(out / model_name))[3]
        np.testing.assert_allclose(model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0), probe["outputs"], atol=1e-4, rtol=1e-4,
                                   err_msg=f"{task_name}/{model_name}: TensorFlow and JAX disagree")


def _info(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "data_info.json").read_text())

"""Export a finished run for serving: a TensorFlow SavedModel, or a TFLite model of built-in ops only.

    recurrent export RUN --format savedmodel
    recurrent export RUN --format tflite [--quantize none|dynamic|float16|int8]

Everything lands under `RUN/export/`, each file written to a temporary name and renamed, and each next
to a JSON report of how it was checked:

- `savedmodel/`: signature `serve` (the model's own inputs, any batch size) and, for tasks that read
  text, `serve_text` taking raw strings (the vocabulary lives inside the graph); a task's further
  signatures (`Task.endpoints`: captioning's `caption`, image bytes' pixels to a sentence by greedy
  decoding in the graph). Reloaded with `tf.saved_model.load` and compared with the Keras model (and each
  further signature with the task's Python path) on real test inputs (`savedmodel.json`).
- `model[-QUANT].tflite`: batch 1 and the task's fixed input shape, converted with TFLite's built-in op
  set only (no Flex / Select-TF ops, which the pip interpreters cannot run): Keras's recurrent layers
  and this project's custom loops lower to the builtin WHILE op once every shape but nothing else is
  static. Run in the LiteRT interpreter against the Keras model on real test inputs; the report
  (`model[-QUANT].tflite.json`) holds the op list, file size, latency and the largest difference.
  A task's further signatures with numeric outputs (`Endpoint.tflite_outputs`) become
  `model_NAME[-QUANT].tflite` beside it, checked example by example like the SavedModel's.

Quantization (TFLite only): `dynamic` (int8 weights, float activations), `float16` (half-precision
weights), `int8` (integer weights and activations, calibrated on training inputs; refused with the
converter's reason where a model's ops have no integer kernels).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import numpy as np

from keras_recurrent.pipelines import compat, fitting, rundir
from keras_recurrent.pipelines.environment import seed_everything, stderr_silenced
from keras_recurrent.tasks import UserError

FORMATS = ("savedmodel", "tflite")
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
SAVEDMODEL_TOLERANCE = 1e-5
TFLITE_TOLERANCE = 1e-4  # float TFLite; quantized variants report their error instead
PARITY_EXAMPLES = 32


def export(run: str, *, format: str = "savedmodel", quantize: str = "none", quiet: bool = False) -> dict:
    """Export the finished run `run`; return the report that is also written beside the export.

    Raises UserError (nothing written) for a run that does not exist or is unfinished, an unknown
    format or quantization, a quantization of a SavedModel, or a model the format cannot take.
    """
    from keras_recurrent.pipelines.verbs import load_run

    if format not in FORMATS:
        raise UserError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise UserError(f"--quantize {quantize!r}: expected one of {', '.join(QUANTIZATIONS)}")
    if format == "savedmodel" and quantize != "none":
        raise UserError("--quantize applies to --format tflite; a SavedModel keeps the trained float weights")
    task, config, info, model = load_run(run)
    with rundir.locked(run):
        seed_everything(config.train.seed, config.train.xla)
        # Read as for evaluating the run: a task whose training split is costly (solved TSP tours) skips it.
        data = fitting.load_for_run(task, config.data_spec, config.data, config.train.seed, info)
        inputs = _real_inputs(data.test, PARITY_EXAMPLES)
        if format == "savedmodel":
            report = _export_savedmodel(task, model, info, inputs, os.path.join(run, "export"))
        else:
            calibration = _real_inputs(data.train, 100) if quantize == "int8" else None
            report = _export_tflite(task, model, info, inputs, os.path.join(run, "export"), quantize, calibration)
    if not quiet:
        shown = {k: v for k, v in report.items() if k not in ("ops", "signatures")}
        print(json.dumps(shown, indent=2))
    return report


def _real_inputs(dataset, count: int):
    """The first `count` model inputs of an element-wise (inputs, targets) dataset, as NumPy."""
    import tensorflow as tf

    batch = next(iter(dataset.take(count).batch(count)))
    features = batch[0] if isinstance(batch, tuple) else batch
    return tf.nest.map_structure(np.asarray, features)


def _input_specs(task, model, info):
    """(TensorSpec per model input, with batch None) for the SavedModel; static shapes for TFLite."""
    import tensorflow as tf

    static = task.export_inputs(model, info)
    dynamic = [tf.TensorSpec((None, *t.shape), t.dtype, name=t.name) for t in static]
    fixed = [tf.TensorSpec((1, *t.shape), t.dtype, name=t.name) for t in static]
    return dynamic, fixed


def split_endpoints(task, model, info):
    """(the TextEndpoint or None, the StepModel or None, [Endpoint]) of `task.endpoints`."""
    from keras_recurrent.layers.streaming import StepModel
    from keras_recurrent.tasks import Endpoint, TextEndpoint

    entries = task.endpoints(model, info)
    texts = [e for e in entries if isinstance(e, TextEndpoint)]
    steps = [e for e in entries if isinstance(e, StepModel)]
    others = [e for e in entries if isinstance(e, Endpoint)]
    if len(texts) > 1 or len(steps) > 1 or len(texts) + len(steps) + len(others) != len(entries):
        raise TypeError(f"{task.name}.endpoints: at most one TextEndpoint and one StepModel, and Endpoints")
    return (texts[0] if texts else None), (steps[0] if steps else None), others


def _archive(model, specs, text_endpoint=None, stepper=None, step_specs=None, endpoints=()):
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    single = len(specs) == 1
    if specs:
        archive.add_endpoint("serve", (lambda x: model(x, training=False)) if single else
                             (lambda *xs: model(list(xs), training=False)), input_signature=specs)
    if stepper is not None:
        archive.add_endpoint("step", lambda *xs: stepper(list(xs)), input_signature=step_specs)
    if text_endpoint is not None:
        archive.track(text_endpoint.trackables)
        archive.add_endpoint("serve_text", text_endpoint.fn, input_signature=[tf.TensorSpec((None,), tf.string, name="text")])
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.fn, input_signature=endpoint.input_signature)
    return archive


def _endpoint_parity(endpoint, call, inputs, tolerance: float = SAVEDMODEL_TOLERANCE, keys=None) -> dict:
    """An exported signature (`call`, on the whole batch of examples) against the task's Python path on real
    inputs: the share of examples whose outputs agree (exactly, or within `tolerance`) and the largest
    difference, over the outputs named in `keys` (all the reference's by default)."""
    import tensorflow as tf

    args = endpoint.examples(inputs)
    got = call(*[tf.constant(a) for a in args])
    expected = endpoint.reference(*args)
    agree, largest = None, 0.0
    for key in keys or expected:
        have, want = np.asarray(got[key]), np.asarray(expected[key])
        if have.dtype.kind in "OSU":  # strings: equal or not
            same = np.array([a == (b.decode() if isinstance(b, bytes) else b) for a, b in zip(want.ravel(), have.ravel())])
            rows = same.reshape(len(want), -1).all(-1)
        else:
            diff = np.abs(have.astype("float64") - want.astype("float64")).reshape(len(want), -1)
            largest = max(largest, float(diff.max()) if diff.size else 0.0)
            rows = (diff == 0).all(-1) if endpoint.exact else (diff <= tolerance).all(-1)
        agree = rows if agree is None else agree & rows
    share = float(np.mean(agree)) if agree is not None and len(agree) else 1.0
    return {"examples": int(len(args[0])), "agreement": share, "max_abs_diff": largest}


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64"))))


def _export_savedmodel(task, model, info, inputs, export_dir) -> dict:
    import tensorflow as tf

    dynamic, _ = _input_specs(task, model, info)
    text_endpoint, stepper, endpoints = split_endpoints(task, model, info)
    os.makedirs(export_dir, exist_ok=True)
    final = os.path.join(export_dir, "savedmodel")
    tmp = tempfile.mkdtemp(prefix=".tmp-savedmodel-", dir=export_dir)
    try:
        step_specs = stepper.input_specs(None) if stepper is not None else None
        _archive(model, dynamic, text_endpoint, stepper, step_specs, endpoints).write_out(os.path.join(tmp, "m"), verbose=False)
        reloaded = tf.saved_model.load(os.path.join(tmp, "m"))
        args = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        expected = np.asarray(model(inputs, training=False))
        got = np.asarray(reloaded.serve(*[tf.constant(a) for a in args]))
        report = {"format": "savedmodel", "path": final, "signatures": sorted(reloaded.signatures),
                  "examples_compared": int(len(expected)), "max_abs_diff_serve": _max_diff(got, expected)}
        if report["max_abs_diff_serve"] > SAVEDMODEL_TOLERANCE:
            raise RuntimeError(f"SavedModel differs from the Keras model by {report['max_abs_diff_serve']:.3g}")
        if text_endpoint is not None:
            texts = text_endpoint.examples
            via_text = np.asarray(reloaded.serve_text(tf.constant(texts)))
            report["max_abs_diff_serve_text"] = _max_diff(via_text, text_endpoint.reference(texts))
            if report["max_abs_diff_serve_text"] > SAVEDMODEL_TOLERANCE:
                raise RuntimeError(f"serve_text differs from the Keras model by {report['max_abs_diff_serve_text']:.3g}")
        if stepper is not None:
            step, _ = _step_parity(lambda *xs: reloaded.step(*[tf.constant(x) for x in xs]), stepper, inputs, expected)
            report["max_abs_diff_step"] = step
            report["step_states"] = [list(shape) for shape in stepper.state_shapes]
            if step > SAVEDMODEL_TOLERANCE:
                raise RuntimeError(f"the step signature differs from the full model by {step:.3g}")
        for endpoint in endpoints:
            parity = _endpoint_parity(endpoint, getattr(reloaded, endpoint.name), inputs)
            report[endpoint.name] = parity
            if parity["agreement"] < endpoint.agreement_needed:
                raise RuntimeError(f"the {endpoint.name} signature agrees with the task's own on {parity['agreement']:.0%} "
                                   f"of the examples")
        rundir.replace_dir(os.path.join(tmp, "m"), final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rundir.write_json(os.path.join(export_dir, "savedmodel.json"), report)
    return report


def _step_parity(step, stepper, inputs, expected, examples: int = 4) -> tuple[float, float]:
    """(largest difference, milliseconds per step): `step` fed the first `examples` sequences of
    `inputs` one element at a time from zero states (`step(*[x_t, *states]) -> [y_t, *states]`, batch
    of one), against `expected`, the full model's outputs on `inputs`. Only the step calls are timed."""
    sequences = (inputs[0] if isinstance(inputs, (list, tuple)) else inputs)[:examples]
    worst, seconds, steps = 0.0, 0.0, 0
    for row, want in zip(sequences, expected):
        states = stepper.initial_states(1)
        for t in range(len(row)):
            started = time.perf_counter()
            y, *states = step(row[t: t + 1], *states)
            seconds += time.perf_counter() - started
            steps += 1
            states = [np.asarray(s) for s in states]
            worst = max(worst, _max_diff(np.asarray(y)[0], want[t]))
    return worst, seconds * 1000 / max(steps, 1)


def _converter(model, fixed_specs, workdir, stepper=None):
    import tensorflow as tf

    path = os.path.join(workdir, "batch1")
    if stepper is None:
        _archive(model, fixed_specs).write_out(path, verbose=False)
    else:
        _archive(model, [], stepper=stepper, step_specs=stepper.input_specs(1)).write_out(path, verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(path)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _quantize(converter, quantize: str):
    import tensorflow as tf

    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]


_INT8_CONVERSION = """
import sys, numpy as np, tensorflow as tf
work = sys.argv[1]
rows = list(np.load(work + "/calibration.npz").values())
converter = tf.lite.TFLiteConverter.from_saved_model(work + "/batch1")
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([r[i:i + 1] for r in rows] for i in range(len(rows[0])))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(work + "/int8.tflite", "wb").write(converter.convert())
"""


def _convert_int8_isolated(work: str, calibration, model_name: str) -> bytes:
    """Full-integer conversion in a child process: TFLite's calibrator can crash the process outright
    (a segmentation fault, seen on every recurrent model here) rather than raise."""
    import subprocess
    import sys

    rows = calibration if isinstance(calibration, (list, tuple)) else [calibration]
    np.savez(os.path.join(work, "calibration.npz"), *rows)
    done = subprocess.run([sys.executable, "-c", _INT8_CONVERSION, work], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = (f"the converter crashed (signal {-done.returncode}) while calibrating integer activations"
                  if done.returncode < 0 else (lines[-1] if lines else f"exit status {done.returncode}"))
        raise UserError(f"{model_name} cannot take --quantize int8 (integer weights and activations): {reason}; "
                        f"use --quantize dynamic or float16, which keep float activations")
    with open(os.path.join(work, "int8.tflite"), "rb") as f:
        return f.read()


def interpreter(model_content: bytes):
    """A LiteRT interpreter (the `ai-edge-litert` package), or TensorFlow's own where LiteRT is missing."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - platforms without LiteRT wheels
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with stderr_silenced():  # LiteRT announces its CPU delegate on stderr
        runner = Interpreter(model_content=model_content)
        runner.allocate_tensors()
    return runner


def run_tflite(runner, inputs) -> np.ndarray:
    """Outputs of a batch-1 TFLite model for every example of `inputs` (one invocation each)."""
    rows = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    details = runner.get_input_details()
    output = runner.get_output_details()[0]["index"]
    # The converter does not keep the model's input order: pair each interpreter input with the model
    # input of its shape (inputs of equal shapes keep their order).
    remaining, order = list(range(len(rows))), []
    for detail in details:
        shape = tuple(detail["shape"][1:])
        pick = next((r for r in remaining if tuple(np.shape(rows[r])[1:]) == shape), remaining[0])
        remaining.remove(pick)
        order.append(pick)
    results = []
    for i in range(len(rows[0])):
        for detail, r in zip(details, order):
            runner.set_tensor(detail["index"], rows[r][i: i + 1].astype(detail["dtype"]))
        runner.invoke()
        results.append(runner.get_tensor(output)[0])
    return np.stack(results)


def _convert(model, fixed, work, quantize, calibration, stepper=None) -> bytes:
    converter = _converter(model, fixed, work, stepper)
    if quantize == "int8":
        return _convert_int8_isolated(work, calibration, model.name)
    _quantize(converter, quantize)
    try:
        return converter.convert()
    except Exception as e:  # the converter's reason, in one line
        reason = " ".join(str(e).split())[:300]
        what = f"{model.name}'s step model" if stepper is not None else model.name
        raise UserError(f"{what} cannot be converted with --quantize {quantize}: {reason}") from None


def _builtin_ops(runner, what: str) -> list[str]:
    ops = compat.tflite_op_names(runner)
    foreign = [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    if foreign:
        raise UserError(f"{what}: the TFLite model needs non-builtin ops ({', '.join(foreign)})")
    return ops


def tflite_step(runner, stepper):
    """The `step` signature of a TFLite step model as `step(x_t, *states) -> [y_t, *states]`."""
    signature = runner.get_signature_runner("step")
    specs = stepper.input_specs(1)

    def step(*xs):
        outputs = signature(**{spec.name: np.asarray(x).astype(spec.dtype.as_numpy_dtype) for x, spec in zip(xs, specs)})
        return [outputs[f"output_{i}"] for i in range(len(outputs))]

    return step


def _tflite_endpoint(model, endpoint, inputs, export_dir, suffix, quantize) -> tuple[bytes, dict]:
    """A task's further signature (`Task.endpoints`) as a TFLite model of its numeric outputs, batch 1,
    checked example by example against the task's Python path like the SavedModel's signature."""
    import dataclasses

    import tensorflow as tf

    fixed = [tf.TensorSpec((1, *spec.shape[1:]), spec.dtype, name=spec.name) for spec in endpoint.input_signature]

    def kept(*xs):
        outputs = endpoint.fn(*xs)
        return {key: outputs[key] for key in endpoint.tflite_outputs}

    with tempfile.TemporaryDirectory(prefix=".tmp-tflite-", dir=export_dir) as work:
        # Through a SavedModel signature, so that the TFLite model keeps one and its outputs are found by name.
        _archive(model, [], endpoints=[dataclasses.replace(endpoint, fn=kept, input_signature=fixed)]).write_out(
            work, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(work, signature_keys=[endpoint.name])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        _quantize(converter, quantize)
        try:
            content = converter.convert()
        except Exception as e:
            raise UserError(f"the {endpoint.name} signature cannot be converted to TFLite: "
                            f"{' '.join(str(e).split())[:300]}") from None
    runner = interpreter(content)
    ops = _builtin_ops(runner, f"the {endpoint.name} signature")
    signature = runner.get_signature_runner(endpoint.name)
    seconds = []

    def one_at_a_time(*tensors):  # the TFLite model takes batch 1: run it example by example, stack the outputs
        rows = []
        for i in range(len(tensors[0])):
            started = time.perf_counter()
            rows.append(signature(**{spec.name: np.asarray(t[i: i + 1]) for spec, t in zip(fixed, tensors)}))
            seconds.append(time.perf_counter() - started)
        return {key: np.concatenate([row[key] for row in rows]) for key in endpoint.tflite_outputs}

    parity = _endpoint_parity(endpoint, one_at_a_time, inputs, TFLITE_TOLERANCE, endpoint.tflite_outputs)
    report = {"path": os.path.join(export_dir, f"model_{endpoint.name}{suffix}.tflite"), "bytes": len(content),
              "outputs": list(endpoint.tflite_outputs), **parity,
              "latency_ms_batch1": round(1000 * float(np.mean(seconds)), 3), "ops": ops}
    if quantize == "none" and report["agreement"] < endpoint.agreement_needed:
        raise RuntimeError(f"the TFLite {endpoint.name} model agrees with the task's own on {report['agreement']:.0%} "
                           f"of the examples")
    return content, report


def _export_tflite(task, model, info, inputs, export_dir, quantize, calibration) -> dict:
    _, fixed = _input_specs(task, model, info)
    os.makedirs(export_dir, exist_ok=True)
    suffix = "" if quantize == "none" else f"-{quantize}"
    # Full-integer conversion covers the model alone: its endpoints are not even built.
    _, stepper, endpoints = split_endpoints(task, model, info) if quantize != "int8" else (None, None, [])
    with tempfile.TemporaryDirectory(prefix=".tmp-tflite-", dir=export_dir) as work:
        content = _convert(model, fixed, os.path.join(work, "full"), quantize, calibration)
        step_content = None if stepper is None else _convert(model, None, os.path.join(work, "step"), quantize, None, stepper)
    runner = interpreter(content)
    ops = _builtin_ops(runner, model.name)
    expected = np.asarray(model(inputs, training=False))
    started = time.perf_counter()
    got = run_tflite(runner, inputs)
    latency_ms = (time.perf_counter() - started) * 1000 / len(got)
    report = {
        "format": "tflite", "quantize": quantize, "path": os.path.join(export_dir, f"model{suffix}.tflite"),
        "input_shapes": [[1, *spec.shape[1:]] for spec in fixed], "bytes": len(content),
        "examples_compared": int(len(got)), "max_abs_diff": _max_diff(got, expected),
        "latency_ms_batch1": round(latency_ms, 3), "ops": ops,
    }
    if quantize == "none" and report["max_abs_diff"] > TFLITE_TOLERANCE:
        raise RuntimeError(f"TFLite model differs from the Keras model by {report['max_abs_diff']:.3g}")
    if stepper is not None:
        step_runner = interpreter(step_content)
        step_ops = _builtin_ops(step_runner, f"{model.name}'s step model")
        diff, step_ms = _step_parity(tflite_step(step_runner, stepper), stepper, inputs, expected, examples=1)
        report["step"] = {
            "path": os.path.join(export_dir, f"model_step{suffix}.tflite"), "bytes": len(step_content),
            "state_shapes": [[1, *shape] for shape in stepper.state_shapes], "max_abs_diff": diff,
            "latency_ms_per_step": round(step_ms, 3), "ops": step_ops,
        }
        if quantize == "none" and diff > TFLITE_TOLERANCE:
            raise RuntimeError(f"the TFLite step model differs from the full Keras model by {diff:.3g}")
    blobs = [(report["path"], content), (report.get("step", {}).get("path"), step_content)]
    for endpoint in endpoints:
        if endpoint.tflite_outputs:
            blob, report[endpoint.name] = _tflite_endpoint(model, endpoint, inputs, export_dir, suffix, quantize)
            blobs.append((report[endpoint.name]["path"], blob))
    for path, blob in blobs:
        if path is None:
            continue
        with rundir.atomic_path(path, ".tflite") as tmp:
            with open(tmp, "wb") as f:
                f.write(blob)
    rundir.write_json(report["path"] + ".json", report)
    return report

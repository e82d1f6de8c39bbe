"""Export a finished run for serving: a TensorFlow SavedModel, or TFLite models of built-in ops only.

    recurrent export RUN --format savedmodel
    recurrent export RUN --format tflite [--quantize none|dynamic|float16|int8]

Everything lands under `RUN/export/`, each file written to a temporary name and renamed, and each next
to a JSON report of how it was checked.

Every signature is an `Endpoint` with what checks it (`signatures`): `serve` (the model on its own
inputs, any batch size), then what the task adds (`Task.endpoints`): `serve_text` for tasks that read
text (raw strings in; the vocabulary lives inside the graph), `step` for a streaming model (one element
and the state in, the output and the new state out), and signatures that decode in the graph
(captioning's `caption`, the pointer tasks' `decode`). One path exports and checks them all:

- `savedmodel/`: every signature in one SavedModel, reloaded with `tf.saved_model.load`; each signature
  compared with its Python reference (the Keras model, or the task's own decoding) on real test inputs
  (`savedmodel.json`: examples, the share that agrees, the largest difference, a signature each).
- `model[-QUANT].tflite` (`serve`) and `model_NAME[-QUANT].tflite` (every other signature with numeric
  outputs: TFLite's built-in ops hold no strings): batch 1 and static shapes, converted with TFLite's
  built-in op set only (no Flex / Select-TF ops, which the pip interpreters cannot run): Keras's
  recurrent layers, this project's custom loops and the decoding loops lower to the builtin WHILE op once
  every shape but nothing else is static. Run in the LiteRT interpreter example by example and compared
  the same way (`model[-QUANT].tflite.json`: op lists, sizes, latency).

A step signature is checked by feeding whole sequences one element at a time from zero states and
comparing with the full model at every position.

Quantization (TFLite only): `dynamic` (int8 weights, float activations), `float16` (half-precision
weights), `int8` (integer weights and activations, calibrated on training inputs; `serve` only; refused
with the converter's reason where a model's ops have no integer kernels). Quantized models report their
difference instead of having to agree.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time

import numpy as np

from keras_recurrent.pipelines import compat, fitting, rundir
from keras_recurrent.pipelines.environment import seed_everything, stderr_silenced
from keras_recurrent.tasks import Endpoint, UserError

FORMATS = ("savedmodel", "tflite")
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
SAVEDMODEL_TOLERANCE = 1e-5
TFLITE_TOLERANCE = 1e-4  # float TFLite; quantized variants report their error instead
PARITY_EXAMPLES = 32
STEP_EXAMPLES = 4  # sequences a step signature is checked on, one element at a time


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


# -- the signatures ---------------------------------------------------------------------------------
def signatures(task, model, info) -> list[Endpoint]:
    """Every signature of the export, each an `Endpoint` with what checks it: `serve`, then the task's
    `endpoints()` (a `layers.streaming.StepModel` among them becomes `step`)."""
    from keras_recurrent.layers.streaming import StepModel

    found = [_serve(task, model, info)]
    for entry in task.endpoints(model, info):
        if isinstance(entry, StepModel):
            found.append(_Step.of(entry))
        elif isinstance(entry, Endpoint):
            found.append(entry)
        else:
            raise TypeError(f"{task.name}.endpoints: Endpoints and StepModels, not {type(entry).__name__}")
    names = [e.name for e in found]
    if len(set(names)) < len(names):
        raise TypeError(f"{task.name}.endpoints: two signatures of one name among {names}")
    return found


def _serve(task, model, info) -> Endpoint:
    """The model on its own inputs (any batch size), against the Keras model."""
    import tensorflow as tf

    specs = [tf.TensorSpec((None, *t.shape), t.dtype, name=t.name) for t in task.export_inputs(model, info)]
    single = len(specs) == 1

    def serve(*xs):
        return model(xs[0] if single else list(xs), training=False)

    def examples(inputs):
        return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]

    def reference(*arrays):
        return {"output": np.asarray(serve(*arrays))}

    return Endpoint("serve", serve, specs, examples, reference, tflite_outputs=("output",))


@dataclasses.dataclass
class _Step(Endpoint):
    """A streaming model's one step, `step(x_t, *states) -> [y_t, *states]`, checked by stepping through
    whole sequences from zero states against the full model at every position."""

    stepper: object = None

    @classmethod
    def of(cls, stepper):
        model = stepper.full_model  # what every step is compared with

        def examples(inputs):
            return [(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)[:STEP_EXAMPLES]]

        def reference(sequences):
            return {"output": np.asarray(model(sequences, training=False))}

        outputs = tuple(f"output_{i}" for i in range(1 + len(stepper.state_shapes)))
        return cls("step", lambda *xs: stepper(list(xs)), stepper.input_specs(None), examples, reference,
                   tflite_outputs=outputs, stepper=stepper)

    def stepping(self, step):
        """`step` (one call on a batch of one) as a call on whole sequences: {"output": every step's output}."""
        def through(sequences):
            rows = []
            for row in np.asarray(sequences):
                states, outputs = self.stepper.initial_states(1), []
                for t in range(len(row)):
                    y, *states = _ordered(step(row[t: t + 1], *states))
                    outputs.append(np.asarray(y)[0])
                    states = [np.asarray(s) for s in states]
                rows.append(np.stack(outputs))
            return {"output": np.stack(rows)}

        return through


def _named(outputs) -> dict:
    """A signature's outputs by name: a dict as it is, a list as output_0, output_1, ..., one tensor as output."""
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, (list, tuple)):
        return {f"output_{i}": o for i, o in enumerate(outputs)}
    return {"output": outputs}


def _ordered(outputs) -> list:
    named = _named(outputs)
    return [named[f"output_{i}"] for i in range(len(named))]


def _caller(endpoint, function, batch_one: bool = False, seconds: list | None = None):
    """How a check calls an exported signature on the examples: a step through whole sequences, an export of
    batch 1 example by example (its outputs stacked), any other once; each call of `function` timed."""
    import tensorflow as tf

    def timed(*xs):
        started = time.perf_counter()
        out = function(*[tf.constant(x) if not batch_one else np.asarray(x) for x in xs])
        if seconds is not None:
            seconds.append(time.perf_counter() - started)
        return out

    if isinstance(endpoint, _Step):
        return endpoint.stepping(timed)
    if not batch_one:
        return timed

    def one_at_a_time(*arrays):
        rows = [_named(timed(*[np.asarray(a)[i: i + 1] for a in arrays])) for i in range(len(arrays[0]))]
        return {key: np.concatenate([np.asarray(row[key]) for row in rows]) for key in rows[0]}

    return one_at_a_time


def _endpoint_parity(endpoint, call, inputs, tolerance: float, keys=None) -> dict:
    """A signature (`call`, on all the examples) against its Python reference on real inputs: the share of
    examples whose outputs agree (exactly, or within `tolerance` times the value where it is above 1) and
    the largest difference, over the outputs named in `keys` (all the reference's by default)."""
    args = endpoint.examples(inputs)
    got = _named(call(*args))
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
            # Within the tolerance, relative to values above 1: float32 keeps about 7 digits, so a forecast
            # of thousands (M3's series) differs in its third decimal between two correct graphs.
            bound = tolerance * np.maximum(1.0, np.abs(want.astype("float64"))).reshape(len(want), -1)
            rows = (diff == 0).all(-1) if endpoint.exact else (diff <= bound).all(-1)
        agree = rows if agree is None else agree & rows
    share = float(np.mean(agree)) if agree is not None and len(agree) else 1.0
    return {"examples": int(len(args[0])), "agreement": share, "max_abs_diff": largest}


def _checked(endpoint, parity: dict, what: str, strict: bool = True) -> dict:
    if strict and parity["agreement"] < endpoint.agreement_needed:
        raise RuntimeError(f"{what} {endpoint.name} signature agrees with its reference on {parity['agreement']:.0%} of "
                           f"the examples (largest difference {parity['max_abs_diff']:.3g})")
    return parity


def _archive(model, endpoints):
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint in endpoints:
        if endpoint.trackables is not None:
            archive.track(endpoint.trackables)
        archive.add_endpoint(endpoint.name, endpoint.fn, input_signature=endpoint.input_signature)
    return archive


# -- SavedModel -------------------------------------------------------------------------------------
def _export_savedmodel(task, model, info, inputs, export_dir) -> dict:
    import tensorflow as tf

    found = signatures(task, model, info)
    os.makedirs(export_dir, exist_ok=True)
    final = os.path.join(export_dir, "savedmodel")
    tmp = tempfile.mkdtemp(prefix=".tmp-savedmodel-", dir=export_dir)
    try:
        _archive(model, found).write_out(os.path.join(tmp, "m"), verbose=False)
        reloaded = tf.saved_model.load(os.path.join(tmp, "m"))
        report = {"format": "savedmodel", "path": final, "signatures": sorted(reloaded.signatures)}
        for endpoint in found:
            call = _caller(endpoint, getattr(reloaded, endpoint.name))
            report[endpoint.name] = _checked(endpoint, _endpoint_parity(endpoint, call, inputs, SAVEDMODEL_TOLERANCE),
                                             "the SavedModel's")
            if isinstance(endpoint, _Step):
                report[endpoint.name]["state_shapes"] = [list(shape) for shape in endpoint.stepper.state_shapes]
        rundir.replace_dir(os.path.join(tmp, "m"), final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rundir.write_json(os.path.join(export_dir, "savedmodel.json"), report)
    return report


# -- TFLite -----------------------------------------------------------------------------------------
def _quantize(converter, quantize: str):
    import tensorflow as tf

    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]


_INT8_CONVERSION = """
import sys, numpy as np, tensorflow as tf
work, key = sys.argv[1], sys.argv[2]
rows = list(np.load(work + "/calibration.npz").values())
converter = tf.lite.TFLiteConverter.from_saved_model(work + "/archive", signature_keys=[key])
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([r[i:i + 1] for r in rows] for i in range(len(rows[0])))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(work + "/int8.tflite", "wb").write(converter.convert())
"""


def _convert_int8_isolated(work: str, key: str, calibration, model_name: str) -> bytes:
    """Full-integer conversion in a child process: TFLite's calibrator can crash the process outright
    (a segmentation fault, seen on every recurrent model here) rather than raise."""
    import subprocess
    import sys

    rows = calibration if isinstance(calibration, (list, tuple)) else [calibration]
    np.savez(os.path.join(work, "calibration.npz"), *rows)
    done = subprocess.run([sys.executable, "-c", _INT8_CONVERSION, work, key], capture_output=True, text=True,
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


def signature_function(runner, endpoint):
    """A TFLite model's signature as a function of positional batch-1 arrays, in the endpoint's input order."""
    signature = runner.get_signature_runner(endpoint.name)
    specs = endpoint.input_signature

    def call(*xs):
        return signature(**{spec.name: np.asarray(x).astype(spec.dtype.as_numpy_dtype) for x, spec in zip(xs, specs)})

    return call


def run_tflite(runner, endpoint, inputs) -> dict:
    """A TFLite model's signature for `endpoint` on the endpoint's examples of `inputs`, one example an
    invocation (batch 1): its outputs by name, stacked."""
    return _caller(endpoint, signature_function(runner, endpoint), batch_one=True)(*endpoint.examples(inputs))


def tflite_step(runner, stepper):
    """The `step` signature of a TFLite step model as `step(x_t, *states) -> [y_t, *states]`."""
    call = signature_function(runner, _Step.of(stepper))
    return lambda *xs: _ordered(call(*xs))


def _builtin_ops(runner, what: str) -> list[str]:
    ops = compat.tflite_op_names(runner)
    foreign = [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    if foreign:
        raise UserError(f"{what}: the TFLite model needs non-builtin ops ({', '.join(foreign)})")
    return ops


def _tflite_signature(model, endpoint, inputs, export_dir, suffix, quantize, calibration) -> tuple[bytes, dict]:
    """One signature as a TFLite model of its numeric outputs (batch 1, static shapes), run in the interpreter
    and checked against its reference like the SavedModel's."""
    import tensorflow as tf

    fixed = [tf.TensorSpec((1, *spec.shape[1:]), spec.dtype, name=spec.name) for spec in endpoint.input_signature]

    def kept(*xs):
        outputs = _named(endpoint.fn(*xs))
        return {key: outputs[key] for key in endpoint.tflite_outputs}

    what = model.name if endpoint.name == "serve" else f"the {endpoint.name} signature"
    with tempfile.TemporaryDirectory(prefix=".tmp-tflite-", dir=export_dir) as work:
        # Through a SavedModel signature, so that the TFLite model keeps one and its outputs are found by name.
        archive = os.path.join(work, "archive")
        _archive(model, [dataclasses.replace(endpoint, fn=kept, input_signature=fixed)]).write_out(archive, verbose=False)
        if quantize == "int8":
            content = _convert_int8_isolated(work, endpoint.name, calibration, model.name)
        else:
            converter = tf.lite.TFLiteConverter.from_saved_model(archive, signature_keys=[endpoint.name])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            _quantize(converter, quantize)
            try:
                content = converter.convert()
            except Exception as e:  # the converter's reason, in one line
                raise UserError(f"{what} cannot be converted with --quantize {quantize}: "
                                f"{' '.join(str(e).split())[:300]}") from None
    runner = interpreter(content)
    ops = _builtin_ops(runner, what)
    seconds = []
    call = _caller(endpoint, signature_function(runner, endpoint), batch_one=True, seconds=seconds)
    keys = None if isinstance(endpoint, _Step) else endpoint.tflite_outputs
    parity = _endpoint_parity(endpoint, call, inputs, TFLITE_TOLERANCE, keys)
    name = "model" if endpoint.name == "serve" else f"model_{endpoint.name}"
    report = {"path": os.path.join(export_dir, f"{name}{suffix}.tflite"), "bytes": len(content),
              "input_shapes": [list(spec.shape) for spec in fixed], "outputs": list(endpoint.tflite_outputs), **parity,
              ("latency_ms_per_step" if isinstance(endpoint, _Step) else "latency_ms_batch1"):
                  round(1000 * float(np.mean(seconds)), 3), "ops": ops}
    _checked(endpoint, parity, "the TFLite", strict=quantize == "none")
    return content, report


def _export_tflite(task, model, info, inputs, export_dir, quantize, calibration) -> dict:
    os.makedirs(export_dir, exist_ok=True)
    suffix = "" if quantize == "none" else f"-{quantize}"
    # Full-integer conversion covers the model alone: the other signatures are not even built.
    found = signatures(task, model, info) if quantize != "int8" else [_serve(task, model, info)]
    report, blobs = {"format": "tflite", "quantize": quantize}, []
    for endpoint in found:
        if not endpoint.tflite_outputs:  # strings in or out: the SavedModel only
            continue
        content, checked = _tflite_signature(model, endpoint, inputs, export_dir, suffix, quantize, calibration)
        if endpoint.name == "serve":
            report.update(checked)
        else:
            report[endpoint.name] = checked
        blobs.append((checked["path"], content))
    for path, blob in blobs:
        with rundir.atomic_path(path, ".tflite") as tmp:
            with open(tmp, "wb") as f:
                f.write(blob)
    rundir.write_json(report["path"] + ".json", report)
    return report

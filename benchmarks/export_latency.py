"""Batch-1 inference latency of every model of every task: Keras, SavedModel, TFLite float and
TFLite dynamic-range quantized, measured side by side in one process (and, for models that stream,
one step of the exported step model; for tasks that decode inside their export, one example through that
signature beside the task's Python decoding of the Keras model).

Each model is built at its task's default sizes on the task's embedded data (latency does not depend
on the weights' values), exported with the pipeline's own code (`pipelines.exporting`), and fed the
same real test example; each timing is the median of `--repeats` calls after warm-up calls.

Run: `python -m benchmarks.export_latency [--repeats 50] [--tasks sentiment,language_model]`;
writes benchmarks/results/export_latency.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.common import previous_result, write_result  # noqa: E402


def median_ms(fn, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def measure(task, model_name: str, config, data, repeats: int) -> dict:
    import keras
    import tensorflow as tf

    from keras_recurrent.pipelines import exporting as ex

    keras.utils.set_random_seed(0)
    model = task.models.build(model_name, config.model, data.info)
    inputs = ex._real_inputs(data.test, 1)
    rows = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    fixed = [spec.shape for spec in task.export_inputs(model, data.info)]
    rows = [r[:, : shape[0]] if r.ndim >= 2 and shape and r.shape[1] > shape[0] else r for r, shape in zip(rows, fixed)]
    one = rows if len(rows) > 1 else rows[0]
    result = {"parameters": int(model.count_params())}
    found = ex.signatures(task, model, data.info)  # serve first, then what the task adds
    with tempfile.TemporaryDirectory() as tmp:
        ex._export_savedmodel(task, model, data.info, one, tmp)
        reloaded = tf.saved_model.load(os.path.join(tmp, "savedmodel"))
        tensors = [tf.constant(r) for r in rows]
        result["keras_ms"] = median_ms(lambda: model.predict_on_batch(one), repeats)
        result["savedmodel_ms"] = median_ms(lambda: reloaded.serve(*tensors), repeats)
        reports = {}
        for quantize in ("none", "dynamic"):
            report = reports[quantize] = ex._export_tflite(task, model, data.info, one, tmp, quantize, None)
            runner = ex.interpreter(open(report["path"], "rb").read())
            label = "tflite_float" if quantize == "none" else "tflite_dynamic"
            result[f"{label}_ms"] = median_ms(lambda: ex.run_tflite(runner, found[0], one), repeats)
            result[f"{label}_bytes"] = report["bytes"]
            result[f"{label}_max_abs_diff"] = report["max_abs_diff"]
            if "step" in report:
                stepper = next(e.stepper for e in found if e.name == "step")
                step = ex.tflite_step(ex.interpreter(open(report["step"]["path"], "rb").read()), stepper)
                states = stepper.initial_states(1)
                x = rows[0][:, 0]
                result[f"{label}_step_ms"] = median_ms(lambda: step(x, *states), repeats)
        for endpoint in found[1:]:
            if endpoint.tflite_outputs and endpoint.name != "step":  # a decoding loop in the graph, beside the task's own Python decoding
                result.update(endpoint_latency(endpoint, one, reloaded, reports["none"][endpoint.name]["path"], repeats))
    keras.backend.clear_session()
    return result


def endpoint_latency(endpoint, inputs, reloaded, tflite_path: str, repeats: int) -> dict:
    """One example through a task's further signature (captioning's `caption`, the pointer tasks' `decode`):
    the task's Python path over the Keras model (`Endpoint.reference`), the SavedModel's signature, and its
    TFLite model."""
    import tensorflow as tf

    from keras_recurrent.pipelines import exporting as ex

    args = endpoint.examples(inputs)
    tensors = [tf.constant(a) for a in args]
    lite = ex.signature_function(ex.interpreter(open(tflite_path, "rb").read()), endpoint)
    signature = getattr(reloaded, endpoint.name)
    return {f"{endpoint.name}_python_ms": median_ms(lambda: endpoint.reference(*args), repeats),
            f"{endpoint.name}_savedmodel_ms": median_ms(lambda: signature(*tensors), repeats),
            f"{endpoint.name}_tflite_ms": median_ms(lambda: lite(*args), repeats)}


def main(argv=None) -> None:
    from keras_recurrent.pipelines.config import resolve_config
    from keras_recurrent.tasks import get_task, task_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--tasks", default=",".join(task_names()))
    args = parser.parse_args(argv)
    results = {}
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        config = resolve_config(task)
        data = task.load(None, config.data, config.train.seed)
        for model_name in task.models:
            config = resolve_config(task, model=model_name)
            print(f"{task_name}/{model_name} ...", flush=True)
            results[f"{task_name}/{model_name}"] = row = measure(task, model_name, config, data, args.repeats)
            print(f"  {row}", flush=True)
    ratios = {name: {"savedmodel_vs_keras": round(r["keras_ms"] / r["savedmodel_ms"], 2),
                     "tflite_float_vs_keras": round(r["keras_ms"] / r["tflite_float_ms"], 2),
                     "tflite_dynamic_vs_keras": round(r["keras_ms"] / r["tflite_dynamic_ms"], 2)}
              for name, r in results.items()}
    for name, r in results.items():  # decoding in the exported graph against decoding in Python
        for key in [k for k in r if k.endswith("_python_ms")]:
            ratios[name][key.replace("_python_ms", "_tflite_vs_python")] = round(r[key] / r[key.replace("python", "tflite")], 2)
    with previous_result("export_latency") as previous:  # a run of some tasks keeps the others' rows
        write_result("export_latency", {"settings": {"repeats": args.repeats, "batch": 1, "seed": 0},
                                        "latency": {**previous.get("latency", {}), **results},
                                        "speedup_over_keras": {**previous.get("speedup_over_keras", {}), **ratios}})


if __name__ == "__main__":
    main()

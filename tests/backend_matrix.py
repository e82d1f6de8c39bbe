"""Train, resume, evaluate and predict every model of one task under the backend KERAS_BACKEND names.

Run by tests/test_backends.py in a child process (a process holds one Keras backend for its life), for
several tasks in one process (each child pays the TensorFlow and JAX imports once):

    KERAS_BACKEND=jax python tests/backend_matrix.py OUT_DIR TASK:MODEL,MODEL[:resume] [TASK:... ...]

With `resume`, it first checks the run guarantee on this backend with the task's default model: a run
interrupted after its first epoch resumes to exactly the metrics of an uninterrupted run with the same
seed (the parent asks it of the tasks whose training has machinery of its own).
Then for each model it trains the task's quick settings into OUT_DIR/TASK/MODEL, predicts the task's example
inputs, and records the model's outputs on a few test inputs, so the parent can reload the saved file
under TensorFlow and compare. With `resume`, the default model also trains again (which must find the finished run) and is
re-evaluated: those paths do not depend on the model, and each costs a compilation per model.
It writes OUT_DIR/TASK/report.json, or OUT_DIR/TASK/error.txt with the traceback if the task failed (the
other tasks still run).
"""

import json
import os
import sys

import numpy as np


def main(task_name: str, out_dir: str, models: str = "", resume: str = "") -> None:
    import keras

    from keras_recurrent.pipelines import verbs
    from keras_recurrent.tasks import get_task

    task = get_task(task_name)
    report = {"backend": keras.backend.backend(), "models": {}, "resume": _resume(task, out_dir) if resume else None}
    for model_name in models.split(",") if models else task.models:
        run_dir = os.path.join(out_dir, model_name)
        run = verbs.train(task_name, model=model_name, quick=True, quiet=True, seed=3, run_dir=run_dir)
        again = evaluated = None
        if resume and model_name == task.models.default:
            again = verbs.train(task_name, model=model_name, quick=True, quiet=True, seed=3, run_dir=run_dir)
            evaluated = verbs.evaluate(run_dir, quiet=True)
        _, config, info, model = verbs.load_run(run_dir)
        predictions = verbs.predict(run_dir, task.predict_examples(info))
        data = task.load(config.data_spec, config.data, config.train.seed)
        inputs = next(iter(data.test.batch(4)))[0]
        inputs = [np.asarray(t) for t in (inputs if isinstance(inputs, (tuple, list)) else [inputs])]
        np.savez(os.path.join(run_dir, "probe.npz"), *inputs, outputs=np.asarray(model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0)))
        report["models"][model_name] = {
            "metrics": run.metrics,
            "second_call_found_finished": again.already_finished if again else None,
            "evaluated": evaluated,
            "predictions": predictions,
            "history_rows": len(open(os.path.join(run_dir, "history.csv")).read().strip().splitlines()) - 1,
        }
        keras.backend.clear_session()
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2, default=float)


def _resume(task, out_dir: str) -> dict:
    import keras

    from keras_recurrent.pipelines import verbs
    from keras_recurrent.pipelines.callbacks import read_history

    class InterruptAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    import dataclasses

    # Dropout on where the task has it, so the random streams matter to the result, not only the order.
    dropout = ["model.dropout=0.3"] if "dropout" in {f.name for f in dataclasses.fields(task.ModelConfig)} else []
    settings = dict(model=task.models.default, quick=True, quiet=True, seed=5, epochs=2, set=dropout)
    reference = verbs.train(task.name, run_dir=os.path.join(out_dir, "resume-reference"), **settings)
    target = os.path.join(out_dir, "resume-interrupted")
    try:
        verbs.train(task.name, run_dir=target, callbacks=[InterruptAfterFirstEpoch()], **settings)
    except KeyboardInterrupt:
        pass
    resumed = verbs.train(task.name, run_dir=target, **settings)
    keras.backend.clear_session()

    def numbers(run):
        metrics = {k: v for k, v in run.metrics.items() if k != "train_seconds_this_process"}
        return {"metrics": metrics, "history": read_history(os.path.join(run.path, "history.csv"))}

    return {"reference": numbers(reference), "resumed": numbers(resumed), "resumed_from_epoch": resumed.resumed_from_epoch}


def run_all(out_dir: str, specs: list) -> None:
    import traceback

    import keras

    for spec in specs:
        task_name, models, resume = (spec.split(":") + ["", ""])[:3]
        task_dir = os.path.join(out_dir, task_name)
        os.makedirs(task_dir, exist_ok=True)
        try:
            main(task_name, task_dir, models, resume)
        except Exception:
            with open(os.path.join(task_dir, "error.txt"), "w") as f:
                f.write(traceback.format_exc())
        keras.backend.clear_session()


if __name__ == "__main__":
    run_all(sys.argv[1], sys.argv[2:])

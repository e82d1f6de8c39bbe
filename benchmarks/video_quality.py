"""Video benchmark: ConvLSTM against FC-LSTM and copying the last frame, on moving digits at 64 x 64, 10 -> 10.

Each model trains with the task's defaults (`recurrent train video --model M`, optionally capped by a
wall-clock budget `--minutes` and changed by `--set K=V`), then is scored on the test clips beside the
copy-last-frame baseline of the same evaluation. Also recorded: parameters, training and prediction
frames per second, and the process's peak resident memory. Targets (issue 7): ConvLSTM test MSE at most
half the copy baseline's, and ConvLSTM below FC-LSTM on MSE and on the per-sequence cross-entropy (the
paper's ordering: 3670.85 against 4832.49 on Moving MNIST), both from one run of this benchmark.
`--memory-check` instead trains one short epoch at batch 8 and reports the peak memory (target: under
4 GiB).

Run: `python -m benchmarks.video_quality [--models convlstm,fc_lstm] [--minutes 60] [--set K=V ...]
[--label NAME] [--memory-check]`; writes (merging model by model, so models can train in separate processes, one core
each) benchmarks/results/video_quality.json and video_by_frame.png.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np

from benchmarks.common import RESULTS, previous_result, write_result
from benchmarks.memory_quality import _time_budget


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


def train_and_score(model: str, minutes: float, seed: int, settings: list, root: str) -> dict:
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines import verbs
    from keras_recurrent.tasks import get_task

    callbacks = [_time_budget(minutes * 60)] if minutes else []
    started = time.perf_counter()
    run = pipelines.train("video", model=model, seed=seed, run_dir=os.path.join(root, f"{model}-{seed}"), quiet=False,
                          callbacks=callbacks, set=list(settings))
    seconds = time.perf_counter() - started
    _, config, info, net = verbs.load_run(run.path)
    m = run.metrics
    frames_per_clip = info["input_frames"] + info["output_frames"]
    trained_frames = m["epochs_trained"] * config.data.num_examples * frames_per_clip
    # Prediction speed: test clips again, timed apart from scoring (the first batch compiles first).
    data = get_task("video").load(config.data_spec, config.data, config.train.seed, run_info=info)
    clips = np.stack([x for x, _ in data.test.take(64).as_numpy_iterator()])
    net.predict(clips[:16], batch_size=16, verbose=0)
    t = time.perf_counter()
    net.predict(clips, batch_size=16, verbose=0)
    predict_fps = round(len(clips) * info["output_frames"] / (time.perf_counter() - t), 1)
    copy = m["baselines"]["copy_last_frame"]
    record = {
        "seconds": round(seconds, 1), "epochs": m["epochs_trained"], "best_epoch": m.get("best_epoch"),
        "parameters": int(net.count_params()),
        "train_frames_per_second": round(trained_frames / m["train_seconds_this_process"], 1),
        "predict_frames_per_second": predict_fps,
        "peak_rss_gib": round(_peak_rss_gib(), 2),
        "test": {k: m[k] for k in ("mse", "psnr", "ssim", "cross_entropy_per_sequence")},
        "copy_last_frame": {k: copy[k] for k in ("mse", "psnr", "ssim", "cross_entropy_per_sequence")},
        "mse_ratio_to_copy": round(m["mse"] / copy["mse"], 4),
        "by_frame": {"model": m["by_frame"], "copy_last_frame": copy["by_frame"]},
    }
    print(f"video {model}: { {k: v for k, v in record.items() if k != 'by_frame'} }", flush=True)
    return record


def memory_check(seed: int, settings: list, root: str) -> dict:
    from keras_recurrent import pipelines

    started = time.perf_counter()
    run = pipelines.train("video", seed=seed, run_dir=os.path.join(root, "memory"), quiet=True, epochs=1,
                          set=["train.batch_size=8", "data.num_examples=256", "data.held_out=16", *settings])
    return {"batch_size": 8, "frames": "64x64, 10 -> 10", "peak_rss_gib": round(_peak_rss_gib(), 2),
            "seconds": round(time.perf_counter() - started, 1), "epochs": run.metrics["epochs_trained"]}


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = result.get("models", {})
    if not models:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in ((axes[0], "mse", "mean squared error"), (axes[1], "cross_entropy", "cross-entropy a frame")):
        for name, record in models.items():
            values = record["by_frame"]["model"][key]
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        copy = next(iter(models.values()))["by_frame"]["copy_last_frame"][key]
        ax.plot(range(1, len(copy) + 1), copy, linestyle="--", color="gray", label="copy last frame")
        ax.set_xlabel("future frame")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("moving digits, 64x64, 10 -> 10 (test clips)")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "video_by_frame.png"), dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="convlstm,fc_lstm")
    parser.add_argument("--minutes", type=float, default=0.0, help="stop each model after the epoch that passes this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="K=V, as for recurrent train")
    parser.add_argument("--label", default="", help="store the (one) model's result under this name, e.g. a variant")
    parser.add_argument("--memory-check", action="store_true")
    args = parser.parse_args(argv)
    result = {"settings": {"seed": args.seed, "minutes_per_model": args.minutes, "set": args.set,
                           "command": "recurrent train video --model M --seed S (task defaults unless --set)"},
              "models": {}}
    with tempfile.TemporaryDirectory() as root:
        if args.memory_check:
            result["memory_check"] = memory_check(args.seed, args.set, root)
        else:
            for model in args.models.split(","):
                result["models"][args.label or model] = train_and_score(model, args.minutes, args.seed, args.set, root)
    with previous_result("video_quality") as previous:
        result["models"] = {**previous.get("models", {}), **result["models"]}
        if "memory_check" in previous and "memory_check" not in result:
            result["memory_check"] = previous["memory_check"]
        write_result("video_quality", result)
        _plot(result)


if __name__ == "__main__":
    main()

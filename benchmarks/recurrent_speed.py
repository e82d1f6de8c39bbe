"""Training and inference throughput of the recurrent layers against Keras's LSTM and GRU, one process.

For each setting (batch, length, width) every model is a single recurrent layer of that width returning
its full sequence. A training step is forward, backward and an Adam update of `mean(outputs)`: a loss
that costs next to nothing, so the layer's own cost is what is timed. Models are timed in interleaved
rounds (each model a few steps per round) and the median step is reported, so a slow moment of the
machine does not land on one model only.

FLOPs are counted analytically (matrix products only, 2 per multiply-add, training = 3 x forward) and
set against the matrix-product peak measured in the same run. Targets (issue 3): SRU >= 4x the LSTM's
training throughput, SRU++ >= 3x; Mogrifier (r=5) step time <= 1.6x the LSTM's; SRU and SRU++ >= 50% of
peak.

Run: `python -m benchmarks.recurrent_speed [--quick]`; writes benchmarks/results/recurrent_speed.json.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.common import write_result  # noqa: E402

SETTINGS = [(32, 256, 256), (32, 64, 128)]


def model_factories(width: int):
    import keras

    from keras_recurrent.layers import SRU, MogrifierLSTM, SRUpp

    d_attention = width // 4
    rank = width // 8
    return {
        "lstm": lambda: keras.layers.LSTM(width, return_sequences=True),
        "gru": lambda: keras.layers.GRU(width, return_sequences=True),
        "sru": lambda: SRU(width, return_sequences=True),
        "sru_naive_scan": lambda: SRU(width, return_sequences=True, implementation="scan"),
        "srupp": lambda: SRUpp(width, attention_dim=d_attention, causal=True, return_sequences=True),
        "srupp_naive_scan": lambda: SRUpp(width, attention_dim=d_attention, causal=True, return_sequences=True,
                                          implementation="scan"),
        "mogrifier": lambda: MogrifierLSTM(width, rounds=5, return_sequences=True),
        f"mogrifier_rank{rank}": lambda: MogrifierLSTM(width, rounds=5, rank=rank, return_sequences=True),
    }


def forward_flops(name: str, batch: int, length: int, width: int) -> float:
    """Matrix-product FLOPs of one forward pass (input width = width)."""
    n, d = batch * length, width
    lstm = 2 * n * (d + d) * 4 * d
    if name == "lstm":
        return lstm
    if name == "gru":
        return 2 * n * (d + d) * 3 * d
    if name.startswith("sru_") or name == "sru":
        return 2 * n * d * 3 * d
    if name.startswith("srupp"):
        a = d // 4
        return 2 * n * (d * a + 2 * a * a + a * 3 * d) + 2 * 2 * batch * length * length * a
    if name == "mogrifier":
        return lstm + 2 * n * 5 * d * d
    if name.startswith("mogrifier_rank"):
        k = int(name[len("mogrifier_rank"):])
        return lstm + 2 * n * 5 * k * (d + d)
    raise KeyError(name)


def matmul_peak() -> dict:
    """Best GFLOP/s of float32 matrix products of the shapes these layers use, measured now."""
    import tensorflow as tf

    best = {}
    for m, k, n in [(8192, 256, 768), (8192, 256, 1024), (4096, 512, 2048), (2048, 2048, 2048)]:
        a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
        product = tf.function(lambda a, b: tf.matmul(a, b))
        product(a, b).numpy()
        times = []
        for _ in range(10):
            start = time.perf_counter()
            product(a, b).numpy()
            times.append(time.perf_counter() - start)
        best[f"{m}x{k}x{n}"] = 2 * m * k * n / min(times) / 1e9
    return {"gflops_by_shape": {k: round(v, 1) for k, v in best.items()}, "peak_gflops": round(max(best.values()), 1)}


def time_setting(batch: int, length: int, width: int, rounds: int, steps: int) -> dict:
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, length, width)).astype("float32")
    models = {}
    for name, make in model_factories(width).items():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((length, width))
        model = keras.Model(inputs, make()(inputs))
        model.compile(keras.optimizers.Adam(1e-3), loss=lambda y_true, y_pred: keras.ops.mean(y_pred))
        start = time.perf_counter()
        model.train_on_batch(x, x)
        model.predict_on_batch(x)
        models[name] = (model, time.perf_counter() - start)
    train = {name: [] for name in models}
    infer = {name: [] for name in models}
    for r in range(rounds):
        for name, (model, _) in models.items():
            for _ in range(steps):
                start = time.perf_counter()
                model.train_on_batch(x, x)
                train[name].append(time.perf_counter() - start)
                start = time.perf_counter()
                model.predict_on_batch(x)
                infer[name].append(time.perf_counter() - start)
        print(f"  setting {batch}x{length}x{width}: round {r + 1}/{rounds} done", flush=True)
    tokens = batch * length
    result = {}
    for name in models:
        train_s, infer_s = float(np.median(train[name])), float(np.median(infer[name]))
        flops = 3 * forward_flops(name, batch, length, width)
        result[name] = {
            "train_step_ms": round(1000 * train_s, 2),
            "train_tokens_per_s": round(tokens / train_s),
            "inference_ms": round(1000 * infer_s, 2),
            "inference_tokens_per_s": round(tokens / infer_s),
            "train_gflops_achieved": round(flops / train_s / 1e9, 1),
            "first_call_s": round(models[name][1], 2),
            "parameters": int(models[name][0].count_params()),
        }
    lstm = result["lstm"]
    for name, row in result.items():
        row["train_throughput_vs_lstm"] = round(row["train_tokens_per_s"] / lstm["train_tokens_per_s"], 2)
        row["inference_throughput_vs_lstm"] = round(row["inference_tokens_per_s"] / lstm["inference_tokens_per_s"], 2)
        row["train_step_time_vs_lstm"] = round(row["train_step_ms"] / lstm["train_step_ms"], 2)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round of one step, small setting only")
    args = parser.parse_args(argv)
    settings = SETTINGS[1:] if args.quick else SETTINGS
    rounds, steps = (1, 1) if args.quick else (args.rounds, args.steps)
    peak = matmul_peak()
    print(f"matrix-product peak: {peak['peak_gflops']} GFLOP/s", flush=True)
    results = {}
    for batch, length, width in settings:
        key = f"batch{batch}_length{length}_width{width}"
        results[key] = time_setting(batch, length, width, rounds, steps)
        for row in results[key].values():
            row["fraction_of_peak"] = round(row["train_gflops_achieved"] / peak["peak_gflops"], 3)
    main_key = f"batch{SETTINGS[0][0]}_length{SETTINGS[0][1]}_width{SETTINGS[0][2]}"
    targets = {}
    if main_key in results:
        r = results[main_key]
        targets = {
            "sru_train_throughput_vs_lstm": r["sru"]["train_throughput_vs_lstm"],
            "sru_at_least_4x": r["sru"]["train_throughput_vs_lstm"] >= 4,
            "srupp_train_throughput_vs_lstm": r["srupp"]["train_throughput_vs_lstm"],
            "srupp_at_least_3x": r["srupp"]["train_throughput_vs_lstm"] >= 3,
            "mogrifier_step_time_vs_lstm": r["mogrifier"]["train_step_time_vs_lstm"],
            "mogrifier_at_most_1.6x": r["mogrifier"]["train_step_time_vs_lstm"] <= 1.6,
            "sru_fraction_of_peak": r["sru"]["fraction_of_peak"],
            "srupp_fraction_of_peak": r["srupp"]["fraction_of_peak"],
            "sru_and_srupp_at_least_half_peak": min(r["sru"]["fraction_of_peak"], r["srupp"]["fraction_of_peak"]) >= 0.5,
        }
    write_result("recurrent_speed", {
        "settings": {"seed": 0, "shapes": settings, "rounds": rounds, "steps_per_round": steps,
                     "loss": "mean(outputs): the layer's own cost", "optimizer": "adam"},
        "matmul_peak": peak,
        "results": results,
        "targets": targets,
    })


if __name__ == "__main__":
    main()

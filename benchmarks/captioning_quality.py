"""Captioning benchmark: the defaults a user gets, on generated scenes and on real photographs, each beside its
baselines from the same run.

- `--set scenes` (the offline default, `recurrent train captioning`): over several seeds, corpus BLEU-1..4 and
  exact match on the held-out split of unseen colour-shape pairs (target: BLEU-4 >= 0.8; beam search >=
  greedy), on the in-distribution `test_seen` split, and the two baselines.
- `--set flickr8k` (`recurrent train captioning --data ../shared/data/flickr8k_subset`): trained on the subset's
  official training images, BLEU-1..4 on its test images beside the most frequent training caption and the
  nearest training image's caption (target: the model beats both on BLEU-4). For context, Xu et al. 2015
  (soft attention, an ImageNet-trained encoder, 6,000 training images): BLEU-1 67, BLEU-4 19.5.

With an ImageNet encoder: `--set flickr8k --label flickr8k_imagenet --set-option model.backbone=mobilenet_v2
--set-option model.backbone_weights=imagenet --assets DIR`, DIR holding Keras's weight file
(`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5`). This machine cannot download it, so
that part has not been measured here.

Run: `python -m benchmarks.captioning_quality [--set scenes|flickr8k] [--seeds 1,2,3] [--label NAME]
[--set-option KEY=VALUE ...] [--assets DIR]`; parts merge into benchmarks/results/captioning_quality.json (one process a
part can run on each core), and a picture of the scores.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np

from benchmarks.common import RESULTS, SHARED_DATA, assets_option, previous_result, use_assets, write_result

FLICKR = os.path.join(SHARED_DATA, "flickr8k_subset")
KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "exact_match")


def _scores(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS if k in metrics}


def one_run(data_set: str, seed: int, options: list, root: str) -> dict:
    from keras_recurrent import pipelines

    data = FLICKR if data_set == "flickr8k" else None
    if data and not os.path.isdir(data):
        raise SystemExit(f"{data}: not found (../shared/data/flickr8k_subset beside the project)")
    started = time.perf_counter()
    run = pipelines.train("captioning", data=data, seed=seed, set=options, quiet=False,
                          run_dir=os.path.join(root, f"{data_set}-{seed}"))
    m = run.metrics
    row = {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "epochs": m["epochs_trained"],
           "best_epoch": m.get("best_epoch"), "decoding": m["decoding"], "model": _scores(m),
           "greedy": _scores(m.get("greedy", m)), "baselines": {k: _scores(v) for k, v in m["baselines"].items()},
           "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)}
    if "test_seen" in m:
        row["test_seen"] = _scores(m["test_seen"])
    print(f"{data_set} seed {seed}: {row}", flush=True)
    return row


def summarise(data_set: str, runs: list) -> dict:
    bleu4 = [r["model"]["bleu_4"] for r in runs]
    summary = {"runs": runs, "bleu_4_mean": float(np.mean(bleu4)), "bleu_4_min": float(np.min(bleu4)),
               "beam_minus_greedy_bleu_4": [round(r["model"]["bleu_4"] - r["greedy"]["bleu_4"], 4) for r in runs]}
    if data_set == "scenes":
        summary["target"] = {"claim": "BLEU-4 >= 0.8 on unseen combinations for every seed; beam >= greedy",
                             "met": bool(min(bleu4) >= 0.8 and all(d >= 0 for d in summary["beam_minus_greedy_bleu_4"]))}
    else:
        beats = [r["model"]["bleu_4"] > max(b["bleu_4"] for b in r["baselines"].values()) for r in runs]
        summary["target"] = {"claim": "BLEU-4 above both baselines', for every seed", "met": bool(all(beats))}
        summary["published_for_context"] = {"xu_2015_soft_attention_flickr8k": {"bleu_1": 0.67, "bleu_4": 0.195}}
    return summary


def plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [(name, part) for name, part in result.get("parts", {}).items() if part.get("runs")]
    if not parts:
        return
    fig, axes = plt.subplots(1, len(parts), figsize=(6 * len(parts), 4), squeeze=False)
    for ax, (name, part) in zip(axes[0], parts):
        labels = ["model", "greedy", *part["runs"][0]["baselines"]]
        for n in range(1, 5):
            values = []
            for label in labels:
                rows = [r[label] if label in r else r["baselines"][label] for r in part["runs"]]
                values.append(np.mean([row[f"bleu_{n}"] for row in rows]))
            ax.plot(labels, values, marker="o", label=f"BLEU-{n}")
        ax.set_title(f"{name} ({len(part['runs'])} seed(s))")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", labelrotation=15)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "captioning_quality.png"), dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="data_set", choices=("scenes", "flickr8k"), default="scenes")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--label", default="", help="part name in the results (default: the data set)")
    parser.add_argument("--set-option", action="append", default=[], help="a --set KEY=VALUE for every run")
    assets_option(parser)
    args = parser.parse_args(argv)
    mirror = use_assets(args.assets)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as root:
        runs = [one_run(args.data_set, seed, args.set_option, root) for seed in seeds]
    part = {"data": args.data_set, "options": args.set_option, **({"assets": mirror} if mirror else {}),
            **summarise(args.data_set, runs)}
    with previous_result("captioning_quality") as previous:
        result = {"settings": {"seed": seeds[0]}, "parts": dict(previous.get("parts", {}))}
        result["parts"][args.label or args.data_set] = part
        write_result("captioning_quality", result)
        plot(result)


if __name__ == "__main__":
    main()

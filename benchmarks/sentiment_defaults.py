"""Sentiment as a new user runs it: `recurrent train sentiment --data ../shared/data/rt_polarity
--encoding cp1252 --seed S [--set ...]`, seeds 1-3 (each seed its own split), beside the TF-IDF + logistic
regression baselines of the same run (issue 13).

Each variant is a list of `--set` overrides on top of the task's defaults (`default` is none at all); the
JSON keeps every variant measured so far (variants run in separate processes merge into one file).
Targets: the default beats the uni+bigram baseline on the mean of 3 seeds; the best variant reaches 79%.

Variants with pretrained word vectors (`glove100`, `glove300`; Kim 2014 reports 76.1% from random vectors
and 81.0% with word2vec on this data) need `--assets DIR` holding the publisher's `glove.6B.zip`: this
machine cannot download it, so they have not been measured here.

Run: `python -m benchmarks.sentiment_defaults [--variants default,pretrain5] [--seeds 1,2,3]
[--demo-seeds 1,2,3,4,5] [--assets DIR]` (`--seeds ""` for the demo alone); writes
benchmarks/results/sentiment_defaults.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from benchmarks.common import SHARED_DATA, assets_option, previous_result, use_assets, write_result

VARIANTS = {
    "default": [],
    "pretrain3": ["model.pretrain_epochs=3"],
    "pretrain5": ["model.pretrain_epochs=5"],
    "pretrain10": ["model.pretrain_epochs=10"],
    "emb128": ["model.embedding_dim=128"],
    "pretrain5_emb128": ["model.pretrain_epochs=5", "model.embedding_dim=128"],
    "pretrain5_drop5": ["model.pretrain_epochs=5", "model.dropout=0.5"],
    "pretrain5_lr1e-3": ["model.pretrain_epochs=5", "train.learning_rate=1e-3"],
    "bpe": ["data.tokens=bpe"],
    "bpe1000": ["data.tokens=bpe", "data.bpe_merges=1000"],
    "glove100": ["model.embeddings=glove.6B.100d", "model.embedding_dim=100"],
    "glove300": ["model.embeddings=glove.6B.300d", "model.embedding_dim=300"],
}
NEEDS_ASSETS = {"glove100", "glove300"}

# `make demo`'s sentences: each label hinges on word order.
DEMO = {"the plot was not good": "negative", "the plot was not bad": "positive",
        "the acting was good but the ending was boring": "negative",
        "although the script was dull , the cast was wonderful": "positive"}


def demo_runs(name: str, settings: list, seeds: list, root: str) -> dict:
    """`make demo` (the embedded corpus, no --data) for each seed: validation accuracy after epochs 1 and 2,
    test accuracy, and the demo sentences. Target: >= 85% on every seed, both first epochs above chance."""
    from keras_recurrent import pipelines
    from keras_recurrent.pipelines.callbacks import read_history

    rows = []
    for seed in seeds:
        run = pipelines.train("sentiment", seed=seed, set=settings, root=root, quiet=True)
        history = read_history(os.path.join(run.path, "history.csv"))
        answers = pipelines.predict(run.path, list(DEMO))
        rows.append({"seed": seed, "accuracy": round(run.metrics["accuracy"], 4),
                     "val_accuracy_epochs_1_2": [round(float(r["val_accuracy"]), 4) for r in history[:2]],
                     "demo_right": sum(a["label"] == DEMO[a["text"]] for a in answers)})
        print(f"demo {name} seed {seed}: {rows[-1]}", flush=True)
    return {"settings": settings, "runs": rows,
            "every_seed_at_least_0.85": all(r["accuracy"] >= 0.85 for r in rows),
            "first_two_epochs_above_chance": all(min(r["val_accuracy_epochs_1_2"]) > 0.6 for r in rows)}


def main(argv=None) -> None:
    from keras_recurrent import pipelines

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="default,pretrain5")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--demo-seeds", default="", help="also run make demo's training for these seeds (1,2,3,4,5)")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for an ad-hoc variant NAME=K=V;K=V")
    assets_option(parser)
    args = parser.parse_args(argv)
    mirror = use_assets(args.assets)
    variants = dict(VARIANTS)
    for extra in args.set:
        name, _, overrides = extra.partition("=")
        variants[name] = overrides.split(";")
    polarity = os.path.normpath(os.path.join(SHARED_DATA, "rt_polarity"))
    if not os.path.isdir(polarity):
        raise SystemExit(f"{polarity} not found")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    measured, demos = {}, {}
    with tempfile.TemporaryDirectory() as root:
        for name in args.variants.split(","):
            if name in NEEDS_ASSETS and not mirror:
                print(f"{name}: left out (needs --assets DIR holding glove.6B.zip)", flush=True)
                continue
            if args.demo_seeds:
                demos[name] = demo_runs(name, variants[name], [int(s) for s in args.demo_seeds.split(",")], root)
            if not seeds:  # --seeds "": the demo alone
                continue
            rows = []
            for seed in seeds:
                started = time.perf_counter()
                run = pipelines.train("sentiment", data=polarity, encoding="cp1252", seed=seed, set=variants[name],
                                      root=root, quiet=True)
                m = run.metrics
                rows.append({"seed": seed, "accuracy": round(m["accuracy"], 4),
                             "bigram_tfidf": round(m["baselines"]["bigram_tfidf_logreg"]["accuracy"], 4),
                             "unigram_tfidf": round(m["baselines"]["bag_of_words_logreg"]["accuracy"], 4),
                             "best_epoch": m.get("best_epoch"), "seconds": round(time.perf_counter() - started, 1)})
                print(f"{name} seed {seed}: {rows[-1]}", flush=True)
            accuracy = np.array([r["accuracy"] for r in rows])
            bigram = np.array([r["bigram_tfidf"] for r in rows])
            measured[name] = {
                "settings": variants[name], "runs": rows, **({"assets": mirror} if name in NEEDS_ASSETS else {}),
                "mean_accuracy": round(float(accuracy.mean()), 4), "std_accuracy": round(float(accuracy.std()), 4),
                "mean_bigram_tfidf": round(float(bigram.mean()), 4),
                "beats_bigram_on_mean": bool(accuracy.mean() > bigram.mean()),
                "seeds_ahead_of_bigram": int((accuracy > bigram).sum()),
            }
            print(f"{name}: mean {accuracy.mean():.4f} (std {accuracy.std():.4f}) vs bigram {bigram.mean():.4f}", flush=True)
    with previous_result("sentiment_defaults") as previous:
        variants_so_far = dict(previous.get("variants", {}))
        variants_so_far.update(measured)
        demos_so_far = {**previous.get("demo", {}), **demos}
        best = max(variants_so_far, key=lambda k: variants_so_far[k]["mean_accuracy"])
        result = {"settings": {"seeds": seeds, "data": polarity, "machine": "2-core CPU"},
                  "variants": variants_so_far,
                  "target_default_beats_bigram": bool(variants_so_far.get("default", {}).get("beats_bigram_on_mean", False)),
                  "best_variant": best,
                  "target_best_at_least_0.79": bool(variants_so_far[best]["mean_accuracy"] >= 0.79),
                  "demo": demos_so_far}
        write_result("sentiment_defaults", result)


if __name__ == "__main__":
    main()

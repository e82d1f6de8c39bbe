"""Pointer-network benchmark: the paper's three problems through `recurrent train`, beside their baselines.

Each case trains the task's default model and settings, changing only the instance size and count and the
epoch budget (`recurrent train TASK --set data.num_points=N --set data.num_examples=M --epochs E`), then
scores greedy decoding on the test instances and, where the target allows it, beam search through
`recurrent evaluate RUN --set model.beam_width=K` (the run's weights, other decoding). Targets (issue 10):

- sort, n = 10: exact match >= 90%;
- convex hull, n = 5: exact match >= 85%; n = 10: >= 70% with area coverage >= 99%;
- TSP, n = 5: within 1% of optimal; n = 10: within 3% (beam search allowed) and shorter than the
  nearest-neighbour tour;
- a TSP model trained on 5 to 10 cities, evaluated at 5..10, 15 and 20 (no target; above 10 cities the
  reference is the best 2-opt tour, since Held-Karp stops at 10).

Run: `python -m benchmarks.pointer_quality [--cases sort_10,hull_5,...] [--seeds 1,2,3]`; writes (merging
case by case, so cases can run in separate processes) benchmarks/results/pointer_quality.json and
pointer_generalisation.png.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from benchmarks.common import RESULTS, previous_result, write_result

# name: (task, num_points, num_examples, epochs, beam widths to evaluate too, seeds: "all" or "first")
CASES = {
    "sort_10": ("sort", "10", 50000, 10, (), "all"),
    "hull_5": ("convex_hull", "5", 50000, 20, (5,), "all"),
    "hull_5_default": ("convex_hull", "5", 100000, 30, (5,), "all"),  # the task's own budget
    "hull_10": ("convex_hull", "10", 100000, 20, (5,), "first"),
    "tsp_5": ("tsp", "5", 50000, 20, (5,), "all"),
    "tsp_10": ("tsp", "10", 100000, 25, (5, 10), "first"),
    "tsp_5_to_10": ("tsp", "5-10", 100000, 20, (5,), "first"),
}
GENERALISATION_SIZES = (15, 20)
HEADLINE = {"sort": "exact_match", "convex_hull": "exact_match", "tsp": "optimality_gap_percent"}


def _summary(metrics: dict) -> dict:
    keep = ("exact_match", "per_position_accuracy", "area_coverage", "tour_length", "optimality_gap_percent",
            "invalid_share", "epochs_trained", "best_epoch", "train_seconds_this_process")
    out = {k: metrics[k] for k in keep if k in metrics}
    if "baselines" in metrics:
        out["baselines"] = metrics["baselines"]
    return out


def run_case(name: str, seeds: list[int], root: str) -> dict:
    from keras_recurrent import pipelines

    task, points, examples, epochs, beams, which = CASES[name]
    settings = [f"data.num_points={points}", f"data.num_examples={examples}"]
    runs = []
    for seed in seeds if which == "all" else seeds[:1]:
        started = time.perf_counter()
        run = pipelines.train(task, seed=seed, epochs=epochs, set=settings, run_dir=os.path.join(root, f"{name}-{seed}"),
                              quiet=True)
        record = {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "greedy": _summary(run.metrics)}
        for width in beams:
            evaluated = pipelines.evaluate(run.path, set=[f"model.beam_width={width}"], quiet=True)
            record[f"beam_{width}"] = _summary(evaluated)
        if name == "tsp_5_to_10":
            record["by_points"] = run.metrics.get("optimality_gap_percent_by_points", {})
            for n in GENERALISATION_SIZES:
                for width in (1, *beams):
                    evaluated = pipelines.evaluate(run.path, set=[f"data.num_points={n}", f"model.beam_width={width}"],
                                                   quiet=True)
                    record[f"n{n}_{'greedy' if width == 1 else f'beam_{width}'}"] = _summary(evaluated)
        print(f"{name} seed {seed}: {json.dumps({k: v for k, v in record['greedy'].items() if k != 'baselines'})}",
              flush=True)
        runs.append(record)
    return summarise(name, runs)


def summarise(name: str, runs: list) -> dict:
    """A case's means over its seeds and its target, from the runs of every seed measured so far."""
    task, points, examples, epochs, beams, _ = CASES[name]
    headline = HEADLINE[task]
    values = [r["greedy"][headline] for r in runs]
    result = {"task": task, "num_points": points, "num_examples": examples, "epochs": epochs, "runs": runs,
              f"greedy_{headline}_mean": float(np.mean(values)), f"greedy_{headline}_std": float(np.std(values))}
    for width in beams:
        values = [r[f"beam_{width}"][headline] for r in runs]
        result[f"beam_{width}_{headline}_mean"] = float(np.mean(values))
    result["target"] = _target(name, result, runs)
    result["target"]["met"] = None if result["target"]["met"] is None else bool(result["target"]["met"])  # numpy bools
    return result


def _target(name, result, runs) -> dict:
    first = runs[0]
    if name == "sort_10":
        return {"claim": "exact match >= 0.90", "met": result["greedy_exact_match_mean"] >= 0.90}
    if name in ("hull_5", "hull_5_default"):
        best = max(result["greedy_exact_match_mean"], result.get("beam_5_exact_match_mean", 0.0))
        return {"claim": "exact match >= 0.85 (greedy or beam 5)", "met": best >= 0.85}
    if name == "hull_10":
        met = any(first[k]["exact_match"] >= 0.70 and first[k]["area_coverage"] >= 0.99
                  for k in first if k == "greedy" or k.startswith("beam_"))
        return {"claim": "exact match >= 0.70 and area coverage >= 0.99 (greedy or beam 5)", "met": met}
    if name == "tsp_5":
        best = min(result["greedy_optimality_gap_percent_mean"], result.get("beam_5_optimality_gap_percent_mean", 1e9))
        return {"claim": "within 1% of optimal (greedy or beam 5)", "met": best <= 1.0}
    if name == "tsp_10":
        gaps = [first[k]["optimality_gap_percent"] for k in first if k == "greedy" or k.startswith("beam_")]
        nearest = first["greedy"]["baselines"]["nearest_neighbour"]["optimality_gap_percent"]
        return {"claim": "within 3% of optimal (beam allowed) and better than nearest neighbour",
                "met": min(gaps) <= 3.0 and min(gaps) < nearest}
    return {"claim": "none (report the gap at 15 and 20 cities)", "met": None}


def _plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    case = result.get("cases", {}).get("tsp_5_to_10")
    if not case:
        return
    run = case["runs"][0]
    sizes = sorted(int(n) for n in run["by_points"])
    gaps = [run["by_points"][str(n)] for n in sizes]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(sizes, gaps, marker="o", label="greedy, trained sizes (vs Held-Karp)")
    for label, key in (("greedy", "greedy"), ("beam 5", "beam_5")):
        xs = [n for n in GENERALISATION_SIZES if f"n{n}_{key}" in run]
        ax.plot(xs, [run[f"n{n}_{key}"]["optimality_gap_percent"] for n in xs], marker="s", linestyle="--",
                label=f"{label}, unseen sizes (vs best 2-opt)")
    ax.set_xlabel("cities")
    ax.set_ylabel("gap to reference tour (%)")
    ax.set_title("TSP pointer network trained on 5-10 cities")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "pointer_generalisation.png"), dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    cases = {}
    with tempfile.TemporaryDirectory() as root:
        os.environ.setdefault("KERAS_RECURRENT_CACHE", os.path.join(root, "cache"))
        for name in args.cases.split(","):
            cases[name] = run_case(name, seeds, root)
    # Cases may run in separate processes: merge into what is there, under a lock.
    with previous_result("pointer_quality") as previous:
        merged = previous.get("cases", {})
        for name, case in cases.items():
            # Seeds of one case may run in separate processes too: keep the other seeds' runs.
            new_seeds = {r["seed"] for r in case["runs"]}
            kept = [r for r in merged.get(name, {}).get("runs", []) if r["seed"] not in new_seeds]
            merged[name] = summarise(name, sorted(kept + case["runs"], key=lambda r: r["seed"])) if kept else case
        result = {"settings": {"seed": seeds[0], "seeds": seeds, "command": "recurrent train TASK --set "
                               "data.num_points=N --set data.num_examples=M --epochs E --seed S (defaults otherwise)"},
                  "cases": merged}
        write_result("pointer_quality", result)
        _plot(result)


if __name__ == "__main__":
    main()

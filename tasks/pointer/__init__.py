"""Pointer-network tasks (Vinyals, Fortunato & Jaitly, "Pointer Networks", NeurIPS 2015): `sort`,
`convex_hull` and `tsp`, one model and one pipeline for the three.

instances generated from the seed -> exact answers (argsort, monotone chain, Held-Karp cached on disk)
-> teacher-forced training of the pointer network -> greedy or beam-search decoding, valid by
construction -> exact match, area coverage or tour length beside the baselines -> pictures of the
answers, the attention of one decoded example, and the score by instance size.

An instance of n points becomes n + 1 input positions: position 0 is the stop symbol (features
[0.., 0, 1]), positions 1..n the points (their coordinates, then [1, 0]); padding beyond n is all zeros
and masked. The answer's positions follow, then the stop position; the decoder's input at step i is the
position chosen at step i - 1 (the stop symbol at step 0).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks import files
from keras_recurrent.tasks.base import Compile, ModelRegistry, Task, TaskData, UserError, hparam, progress
from keras_recurrent.tasks.pointer import problems
from keras_recurrent.tasks.pointer.decoding import beam_search, greedy
from keras_recurrent.tasks.pointer.models import PointerModel, build_pointer_network


def parse_num_points(text: str, smallest: int) -> tuple[int, int]:
    """'10' -> (10, 10); '5-10' -> (5, 10); anything else (or below `smallest`) is a UserError."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
    if not match:
        raise UserError(f"data.num_points={text!r}: expected N or LOW-HIGH, for example 10 or 5-10")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if low > high:
        raise UserError(f"data.num_points={text!r}: LOW must not exceed HIGH")
    if low < smallest:
        raise UserError(f"data.num_points={text!r}: need at least {smallest} points an instance")
    return low, high


@dataclass
class PointerData:
    """Section `data` of the pointer tasks."""

    num_points: str = hparam("10", help="points an instance: N, or LOW-HIGH for sizes drawn uniformly per instance")
    num_examples: int = hparam(100000, help="training instances", min=1)
    held_out: int = hparam(1000, help="validation instances, and test instances", min=1)
    cache_dir: str = hparam("", help="tsp only (sort and convex_hull solve without a cache): where exact tours "
                                     "are cached; empty = $KERAS_RECURRENT_CACHE, else ~/.cache/keras_recurrent")


def _cache_dir(config) -> str:
    return files.cache_directory(config.cache_dir)


def encode_points(instances: list[np.ndarray], positions: int, dims: int | None = None) -> np.ndarray:
    """Instances of (n_i, dims) points -> (count, positions, dims + 2) model inputs (module docstring)."""
    dims = dims if dims is not None else instances[0].shape[1]
    features = np.zeros((len(instances), positions, dims + 2), np.float32)
    features[:, 0, dims + 1] = 1.0
    for i, points in enumerate(instances):
        features[i, 1:len(points) + 1, :dims] = points
        features[i, 1:len(points) + 1, dims] = 1.0
    return features


def teacher_forcing(answers: list[np.ndarray], steps: int):
    """(previous, targets, weights), each (count, steps): the answer's positions then the stop position."""
    previous = np.zeros((len(answers), steps), np.int32)
    targets = np.zeros((len(answers), steps), np.int32)
    weights = np.zeros((len(answers), steps), np.float32)
    for i, answer in enumerate(answers):
        sequence = np.append(np.asarray(answer) + 1, 0)
        targets[i, :len(sequence)] = sequence
        weights[i, :len(sequence)] = 1.0
        previous[i, 1:len(sequence)] = sequence[:-1]
    return previous, targets, weights


class PointerTask(Task):
    """What the three problems share; a subclass says what an instance is and how an answer scores."""

    dims: int = 2
    smallest: int = 3        # fewest points an instance
    min_before_stop: int = 0  # the stop position is held back until this many points are chosen
    all_before_stop: bool = True  # the answer is a permutation
    DataConfig = PointerData
    ModelConfig = PointerModel
    models = ModelRegistry({"pointer": build_pointer_network}, default="pointer",
                           train={"epochs": 30, "batch_size": 128, "learning_rate": 1e-3, "patience": 5})
    tunable = {
        "model.units": [64, 128, 256],
        "train.learning_rate": (3e-4, 3e-3, "log"),
        "train.batch_size": [64, 128, 256],
    }
    quick = {"data.num_points": "5", "data.num_examples": 256, "data.held_out": 32, "model.units": 16, "train.epochs": 1}

    # -- what a subclass defines ------------------------------------------------------------------
    def solve(self, points: np.ndarray, config) -> list[np.ndarray]:
        """(batch, n, dims) instances of one size -> their exact answers (0-based indices)."""
        raise NotImplementedError

    def score(self, instances, answers, truths) -> dict:
        """Metrics of decoded answers against the exact ones (plus baselines)."""
        raise NotImplementedError

    def headline_score(self, instances, answers, truths) -> float:
        """The one number a plot by instance size shows."""
        raise NotImplementedError

    headline: str = ""

    # -- data -------------------------------------------------------------------------------------
    def generate(self, count: int, config, seed: int):
        """(instances, answers): `count` instances with sizes drawn from data.num_points, and their answers."""
        low, high = parse_num_points(config.num_points, self.smallest)
        rng = np.random.default_rng(seed)
        sizes = rng.integers(low, high + 1, size=count)
        instances: list = [None] * count
        answers: list = [None] * count
        for n in np.unique(sizes):
            where = np.flatnonzero(sizes == n)
            points = rng.random((len(where), int(n), self.dims))
            for i, p, a in zip(where, points, self.solve(points, config)):
                instances[i], answers[i] = p, np.asarray(a)
        return instances, answers

    def load(self, spec, config, seed: int, run_info=None) -> TaskData:
        # Evaluating a run (at other sizes, or for export) must not generate and solve a training set first.
        wanted = ("test",) if run_info is not None else ("train", "validation", "test")
        import tensorflow as tf

        if spec:
            raise UserError(f"--data {spec}: the {self.name} task generates its own instances; set data.num_points "
                            f"and data.num_examples instead")
        low, high = parse_num_points(config.num_points, self.smallest)
        info = {
            "problem": self.name, "dims": self.dims, "features": self.dims + 2,
            "min_points": low, "max_points": high, "positions": high + 1, "steps": high + 1,
            "min_before_stop": self.min_before_stop, "all_before_stop": self.all_before_stop,
        }
        splits, extras = [], {}
        for name, count, offset in (("train", config.num_examples, 0), ("validation", config.held_out, 1),
                                    ("test", config.held_out, 2)):
            if name not in wanted:
                count = 0
            instances, answers = self.generate(count, config, seed * 3 + offset)
            features = encode_points(instances, info["positions"], self.dims)
            previous, targets, weights = teacher_forcing(answers, info["steps"])
            splits.append(tf.data.Dataset.from_tensor_slices(((features, previous), targets, weights)))
            if name == "test":
                extras = {"instances": instances, "answers": answers, "features": features}
        return TaskData(*splits, info=info, extras=extras)

    def compatible_info(self, run_info: dict, new_info: dict) -> str | None:
        if (run_info["problem"], run_info["dims"]) != (new_info["problem"], new_info["dims"]):
            return f"the run solves {run_info['problem']}, the data is {new_info['problem']}"
        return None  # the model reads any number of points

    def compile(self, info):
        import keras

        # The share of decoding steps (stop included, padding not) whose target the teacher-forced model ranks first.
        return Compile(keras.losses.SparseCategoricalCrossentropy(),
                       weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="step_accuracy")])

    # -- decoding and results -------------------------------------------------------------------------
    def choose(self, instances):
        """For beam search: which complete hypothesis of instance i to answer with (None: the most probable)."""
        return None

    def decode(self, model, features, instances, beam_width: int):
        steps = features.shape[1]
        if beam_width <= 1:
            return greedy(model, features, steps)
        return beam_search(model, features, steps, beam_width, choose=self.choose(instances)), None

    def evaluate(self, model, data: TaskData, config) -> dict:
        beam = config.model.beam_width if config is not None else 1
        instances, truths = data.extras["instances"], data.extras["answers"]
        answers, _ = self.decode(model, data.extras["features"], instances, beam)
        data.extras["decoded"] = answers  # for the plots, which follow
        metrics = {"decoding": "greedy" if beam <= 1 else f"beam search (width {beam})"}
        metrics.update(self.score(instances, answers, truths))
        by_points = self.by_points(instances, answers, truths)
        if len(by_points) > 1:
            metrics[f"{self.headline}_by_points"] = by_points
        return metrics

    def by_points(self, instances, answers, truths) -> dict:
        """The headline metric for each instance size present."""
        sizes = np.array([len(p) for p in instances])
        groups = {int(n): np.flatnonzero(sizes == n) for n in np.unique(sizes)}
        return {str(n): self.headline_score(*([items[i] for i in where] for items in (instances, answers, truths)))
                for n, where in groups.items()}

    def plots(self, model, data: TaskData, config) -> dict:
        from keras_recurrent.tasks.pointer import plots

        instances, truths, features = data.extras["instances"], data.extras["answers"], data.extras["features"]
        answers = data.extras.get("decoded")
        if answers is None:
            answers, _ = self.decode(model, features, instances, 1)
        first, probabilities = greedy(model, features[:1], features.shape[1])
        figures = {
            "attention": plots.attention(instances[0], first[0], probabilities[0], self.name),
            "answers": self.answer_figure(instances[:6], answers[:6], truths[:6]),
        }
        by_points = self.by_points(instances, answers, truths)
        if len(by_points) > 1:
            figures["by_points"] = plots.by_points(by_points, self.headline, self.name)
        return figures

    def answer_figure(self, instances, answers, truths):
        raise NotImplementedError

    # -- predict ----------------------------------------------------------------------------------
    def predict_examples(self, info):
        rng = np.random.default_rng(0)
        n = info["min_points"]
        return [" ".join(f"{v:.3f}" for v in rng.random(n * self.dims)) for _ in range(2)]

    def parse_instance(self, text: str, where: str, info: dict) -> np.ndarray:
        try:
            values = [float(v) for v in text.replace(",", " ").split()]
        except ValueError:
            raise UserError(f"{where}: not a list of numbers") from None
        if not values:
            raise UserError(f"{where}: no numbers")
        if not all(np.isfinite(values)):
            raise UserError(f"{where}: NaN or infinite value")
        with np.errstate(over="ignore"):  # the cast is the check: a value beyond float32 becomes inf
            narrowed = np.asarray(values, np.float32)
        if not np.isfinite(narrowed).all():  # what the model reads
            raise UserError(f"{where}: a value beyond the range of 32-bit floats (about 3.4e38)")
        if len(values) % self.dims:
            raise UserError(f"{where}: {len(values)} numbers is not a whole number of {self.dims}-D points")
        points = np.asarray(values, np.float32).reshape(-1, self.dims)
        if len(points) < self.smallest:
            raise UserError(f"{where}: {len(points)} points; {self.name} needs at least {self.smallest}")
        if len(points) > info["max_points"]:
            raise UserError(f"{where}: {len(points)} points; the model was trained on at most {info['max_points']} "
                            f"(measure larger sizes with `recurrent evaluate RUN --set data.num_points=N`)")
        return points

    def predict(self, model, inputs, info, config=None) -> list[dict]:
        """Each input is one instance ('x1 y1 x2 y2 ...', or numbers for sort) or a text file of one instance
        a line. Returns one row an instance: the chosen order (0-based), and what the task adds (a length)."""
        instances = []
        for number, text in enumerate(inputs, start=1):
            if os.path.isfile(text):
                lines = list(files.instance_lines(text))
                if not lines:
                    raise UserError(f"{text}: no instances (one a line expected)")
                instances += [self.parse_instance(line, f"{text}, line {i}", info) for i, line in lines]
            else:
                shown = text if len(text) < 40 else text[:37] + "..."
                instances.append(self.parse_instance(text, f"predict input {number} ({shown!r})", info))
        if not instances:
            return []
        features = encode_points(instances, max(len(p) for p in instances) + 1)
        beam = config.model.beam_width if config is not None else 1
        answers, _ = self.decode(model, features, instances, beam)
        return [self.prediction_row(points, answer) for points, answer in zip(instances, answers)]

    def prediction_row(self, points, answer) -> dict:
        return {"order": [int(i) for i in answer]}

    def format_prediction(self, row: dict) -> str:
        return " ".join(map(str, row["order"])) + "".join(f"\t{k}={v}" for k, v in row.items() if k != "order")

    # -- export -----------------------------------------------------------------------------------
    def export_inputs(self, model, info):
        import tensorflow as tf

        return [tf.TensorSpec((info["positions"], info["features"]), tf.float32, name="points"),
                tf.TensorSpec((info["steps"],), tf.int32, name="previous")]

    def endpoints(self, model, info):
        """`decode`: point sets and their counts in, the greedy answers out (and a TSP tour's length), the
        decoding loop inside the exported graph (`exported.py`); in the SavedModel and as a TFLite model."""
        from keras_recurrent.tasks.pointer.exported import decode_endpoint

        return [decode_endpoint(self, model, info)]


class SortTask(PointerTask):
    name = "sort"
    description = "Pointer network: output the order of n numbers in [0, 1) (exact match, per position)"
    data_sources = ("(none): generated numbers; set data.num_points (N or LOW-HIGH)",)
    dims = 1
    smallest = 2
    headline = "exact_match"

    def solve(self, points, config):
        return list(problems.sort_order(points))

    def score(self, instances, answers, truths):
        exact = [np.array_equal(a, t) for a, t in zip(answers, truths)]
        positions = [np.mean(a == t) if len(a) == len(t) else 0.0 for a, t in zip(answers, truths)]
        valid = [problems.is_permutation(a, len(p)) for p, a in zip(instances, answers)]
        return {"exact_match": float(np.mean(exact)), "per_position_accuracy": float(np.mean(positions)),
                "invalid_share": 1.0 - float(np.mean(valid))}

    def headline_score(self, instances, answers, truths):
        return float(np.mean([np.array_equal(a, t) for a, t in zip(answers, truths)]))

    def answer_figure(self, instances, answers, truths):
        from keras_recurrent.tasks.pointer import plots

        return plots.sorted_values(instances, answers, truths)


class ConvexHullTask(PointerTask):
    name = "convex_hull"
    description = "Pointer network: the convex hull of n points, counter-clockwise (exact match, area coverage)"
    data_sources = ("(none): generated points in the unit square; set data.num_points (N or LOW-HIGH)",)
    min_before_stop = 3
    all_before_stop = False
    headline = "exact_match"

    def solve(self, points, config):
        return [problems.convex_hull(p) for p in points]

    def score(self, instances, answers, truths):
        exact = [np.array_equal(a, t) for a, t in zip(answers, truths)]
        coverage = [problems.polygon_area(p, a) / problems.polygon_area(p, t) for p, a, t in zip(instances, answers, truths)]
        valid = [len(a) >= 3 and len(set(a.tolist())) == len(a) for a in answers]
        return {"exact_match": float(np.mean(exact)), "area_coverage": float(np.mean(coverage)),
                "invalid_share": 1.0 - float(np.mean(valid))}

    def headline_score(self, instances, answers, truths):
        return float(np.mean([np.array_equal(a, t) for a, t in zip(answers, truths)]))

    def prediction_row(self, points, answer):
        return {"order": [int(i) for i in answer], "area": round(problems.polygon_area(points, answer), 6)}

    def answer_figure(self, instances, answers, truths):
        from keras_recurrent.tasks.pointer import plots

        return plots.polygons(instances, answers, truths, closed=True, title="convex hull: model (left) / exact")


class TSPTask(PointerTask):
    name = "tsp"
    description = "Pointer network: travelling salesman tours of n cities (tour length, gap to optimal)"
    data_sources = (f"(none): generated cities in the unit square; exact tours by Held-Karp up to "
                    f"{problems.EXACT_TSP_LIMIT} cities (cached), best 2-opt beyond",)
    headline = "optimality_gap_percent"
    tunable = {**PointerTask.tunable, "model.beam_width": [1, 5]}

    def solve(self, points, config):
        if points.shape[1] > problems.EXACT_TSP_LIMIT:
            return [problems.two_opt(p) for p in points]
        return list(solve_tsp_cached(points, _cache_dir(config)))

    def choose(self, instances):
        return lambda i, tours: int(np.argmin([problems.tour_length(instances[i], t) for t in tours]))

    def score(self, instances, answers, truths):
        valid = [problems.is_permutation(a, len(p)) for p, a in zip(instances, answers)]
        lengths = [problems.tour_length(p, a) if ok else np.nan for p, a, ok in zip(instances, answers, valid)]
        reference = np.mean([problems.tour_length(p, t) for p, t in zip(instances, truths)])
        model_length = float(np.nanmean(lengths)) if any(valid) else float("nan")
        exact = max(len(p) for p in instances) <= problems.EXACT_TSP_LIMIT

        def summary(tours):
            mean = float(np.mean([problems.tour_length(p, t) for p, t in zip(instances, tours)]))
            return {"tour_length": mean, "optimality_gap_percent": 100.0 * (mean / reference - 1.0)}

        return {
            "tour_length": model_length,
            "optimality_gap_percent": 100.0 * (model_length / reference - 1.0),
            "invalid_share": 1.0 - float(np.mean(valid)),
            "reference": "optimal (Held-Karp)" if exact else "best 2-opt tour (no exact tours above "
                                                             f"{problems.EXACT_TSP_LIMIT} cities)",
            "baselines": {
                "optimal" if exact else "two_opt_reference": {"tour_length": float(reference), "optimality_gap_percent": 0.0},
                "nearest_neighbour": summary([problems.nearest_neighbour_tour(p) for p in instances]),
                **({"two_opt": summary([problems.two_opt(p) for p in instances])} if exact else {}),
            },
        }

    def headline_score(self, instances, answers, truths):
        lengths = [problems.tour_length(p, a) for p, a in zip(instances, answers)]
        reference = [problems.tour_length(p, t) for p, t in zip(instances, truths)]
        return float(100.0 * (np.mean(lengths) / np.mean(reference) - 1.0))

    def prediction_row(self, points, answer):
        return {"order": [int(i) for i in answer], "length": round(problems.tour_length(points, answer), 6)}

    def answer_figure(self, instances, answers, truths):
        from keras_recurrent.tasks.pointer import plots

        return plots.polygons(instances, answers, truths, closed=True, title="tsp: the model's tour (left), the optimal one (right)",
                              length=problems.tour_length)


def solve_tsp_cached(points: np.ndarray, cache_dir: str) -> np.ndarray:
    """Held-Karp tours of (batch, n, 2) instances, read from `cache_dir` when these exact instances were
    solved before (the file is named by a hash of the coordinates), else solved in chunks and saved."""
    key = hashlib.sha1(np.ascontiguousarray(points, np.float64).tobytes()).hexdigest()[:20]
    path = os.path.join(cache_dir, f"tsp-held-karp-n{points.shape[1]}-{key}.npy")
    if os.path.isfile(path):
        try:
            tours = np.load(path)
            if tours.shape == points.shape[:2]:
                return tours
        except (OSError, ValueError):
            pass  # a damaged cache file is solved again and replaced
    chunk = 2000
    loud = len(points) > 5 * chunk
    tours = []
    for start in range(0, len(points), chunk):
        tours.append(problems.held_karp(points[start:start + chunk]))
        if loud:
            done = start + chunk >= len(points)
            progress(f"solving {len(points):,} TSP instances of {points.shape[1]} cities exactly: "
                     f"{min(start + chunk, len(points)):,}" + (f" (cached in {cache_dir})" if done else ""), done)
    tours = np.concatenate(tours) if tours else np.zeros(points.shape[:2], int)
    try:
        files.write_array(path, tours)  # whole or not at all: a concurrent reader never sees half a file
    except OSError:
        pass  # an unwritable cache only costs the time of solving again
    return tours


__all__ = ["ConvexHullTask", "PointerTask", "SortTask", "TSPTask", "encode_points", "parse_num_points", "teacher_forcing"]

"""Pointer networks: the exact solvers, decoding, and the three tasks (the layers: tests/test_attention_layers.py)."""

import itertools
import json
import os

import numpy as np
import pytest

from keras_recurrent.pipelines import verbs
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError, get_task
from keras_recurrent.tasks.pointer import encode_points, parse_num_points, problems, teacher_forcing
from keras_recurrent.tasks.pointer.decoding import beam_search, greedy

POINTER_TASKS = ("sort", "convex_hull", "tsp")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RECURRENT_CACHE", str(tmp_path / "cache"))


def test_the_pointer_network_round_trips_and_passes_gradients_to_its_pointer(tmp_path):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(2)
    model = get_task("convex_hull").models.build("pointer", _quick_config("convex_hull").model, _info("convex_hull"))
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("f"))
    features = encode_points([rng.random((5, 2)), rng.random((4, 2))], 6)
    previous = np.array([[0, 2, 4, 1, 0, 0], [0, 3, 1, 2, 0, 0]], np.int32)
    path = str(tmp_path / "pointer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict([features, previous], verbose=0),
                               model.predict([features, previous], verbose=0), atol=1e-6)
    pointer = model.get_layer("pointer")
    assert pointer.get_config()["min_before_stop"] == 3 and not pointer.get_config()["all_before_stop"]
    targets = np.array([[2, 4, 1, 0, 0, 0], [3, 1, 2, 0, 0, 0]])
    with tf.GradientTape() as tape:
        probs = model([features, previous])
        loss = keras.losses.sparse_categorical_crossentropy(targets, probs)
    grads = tape.gradient(loss, pointer.trainable_weights)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_held_karp_equals_brute_force_and_beats_heuristics():
    rng = np.random.default_rng(3)
    for n in (4, 5, 6, 7):
        points = rng.random((12, n, 2))
        tours = problems.held_karp(points)
        for p, tour in zip(points, tours):
            best = min(itertools.permutations(range(1, n)), key=lambda rest: problems.tour_length(p, (0, *rest)))
            assert list(tour) == list(problems.canonical_tour((0, *best)))
            assert problems.tour_length(p, problems.two_opt(p)) >= problems.tour_length(p, tour) - 1e-9
            nearest = problems.nearest_neighbour_tour(p)
            assert problems.is_permutation(nearest, n)
            assert problems.tour_length(p, problems.two_opt(p)) <= problems.tour_length(p, nearest) + 1e-9


def test_convex_hull_matches_scipy_counter_clockwise_from_lowest_index():
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(4)
    for _ in range(50):
        points = rng.random((int(rng.integers(3, 15)), 2))
        hull = problems.convex_hull(points)
        reference = ConvexHull(points)
        assert sorted(hull) == sorted(reference.vertices) and hull[0] == min(hull)
        assert problems.polygon_area(points, hull) == pytest.approx(reference.volume, abs=1e-12)
        p = points[hull]  # counter-clockwise: positive signed area
        assert np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)) > 0


def test_canonical_tour_and_teacher_forcing():
    # One tour, spelled from another start and in the other direction: one canonical spelling.
    assert problems.canonical_tour([3, 0, 2, 1]).tolist() == [0, 2, 1, 3]
    assert problems.canonical_tour([1, 2, 0, 3]).tolist() == [0, 2, 1, 3]
    previous, targets, weights = teacher_forcing([np.array([2, 0, 1]), np.array([1, 0])], 4)
    assert targets.tolist() == [[3, 1, 2, 0], [2, 1, 0, 0]]
    assert previous.tolist() == [[0, 3, 1, 2], [0, 2, 1, 0]]
    assert weights.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    features = encode_points([np.array([[0.0, 0.0], [0.5, 0.25]])], 4)
    assert features[0].tolist() == [[0, 0, 0, 1], [0, 0, 1, 0], [0.5, 0.25, 1, 0], [0, 0, 0, 0]]


def test_num_points_grammar():
    assert parse_num_points("10", 3) == (10, 10) and parse_num_points("5-10", 3) == (5, 10)
    for bad in ("ten", "10-5", "2", "5-"):
        with pytest.raises(UserError):
            parse_num_points(bad, 3)


def test_tsp_tours_are_cached_and_read_back(tmp_path, monkeypatch):
    from keras_recurrent.tasks.pointer import solve_tsp_cached

    points = np.random.default_rng(5).random((30, 6, 2))
    first = solve_tsp_cached(points, str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1

    def refuse(*_):
        raise AssertionError("solved again instead of reading the cache")

    monkeypatch.setattr(problems, "held_karp", refuse)
    np.testing.assert_array_equal(solve_tsp_cached(points, str(tmp_path)), first)


# -- decoding ---------------------------------------------------------------------------------------
def _quick_config(name, **overrides):
    from keras_recurrent.pipelines.config import resolve_config

    return resolve_config(get_task(name), quick=True, overrides=[f"{k}={v}" for k, v in overrides.items()])


def _info(name, n=6):
    task = get_task(name)
    return {"features": task.dims + 2, "min_before_stop": task.min_before_stop, "all_before_stop": task.all_before_stop,
            "max_points": n, "positions": n + 1, "steps": n + 1, "problem": name, "dims": task.dims, "min_points": n}


@pytest.mark.parametrize("name", POINTER_TASKS)
def test_untrained_decoding_is_always_valid_and_beam_beats_greedy(name):
    task = get_task(name)
    model = task.models.build("pointer", _quick_config(name).model, _info(name))
    rng = np.random.default_rng(6)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype("f"))
    instances = [rng.random((int(n), task.dims)) for n in rng.integers(task.smallest, 7, size=40)]
    features = encode_points(instances, 7)
    answers, probabilities = greedy(model, features, 7)
    beams = beam_search(model, features, 7, width=4)
    assert beam_search(model, features, 7, width=1)[5].tolist() == answers[5].tolist()
    for points, answer, beam, probs in zip(instances, answers, beams, probabilities):
        for a in (answer, beam):
            if task.all_before_stop:
                assert problems.is_permutation(a, len(points)), a
            else:
                assert len(a) >= 3 and len(set(a.tolist())) == len(a) and max(a) < len(points)
        np.testing.assert_allclose(probs[: len(answer) + 1].sum(-1), 1.0, atol=1e-5)

    def log_probability(i, answer):
        sequence = np.append(answer + 1, 0)
        previous = np.zeros((1, 7), np.int32)
        previous[0, 1:len(sequence)] = sequence[:-1]
        p = model.predict([features[i:i + 1], previous], verbose=0)[0]
        return float(np.sum(np.log(p[np.arange(len(sequence)), sequence])))

    for i in range(6):  # the beam's answer is at least as probable as the greedy one
        assert log_probability(i, beams[i]) >= log_probability(i, answers[i]) - 1e-4


@pytest.mark.parametrize("name", ["sort", "convex_hull"])
def test_a_beam_as_wide_as_every_answer_finds_the_most_probable_one(name):
    """With 4 points a beam of 64 holds every valid answer (24 orders; 48 polygons), so it must return the
    answer that enumerating them all finds most probable."""
    task = get_task(name)
    model = task.models.build("pointer", _quick_config(name).model, _info(name, 4))
    rng = np.random.default_rng(7)
    for w in model.weights:
        w.assign(rng.normal(0, 0.8, w.shape).astype("f"))
    instances = [rng.random((4, task.dims)) for _ in range(12)]
    features = encode_points(instances, 5)
    lengths = (4,) if task.all_before_stop else (3, 4)
    answers = [np.array(a) for k in lengths for a in itertools.permutations(range(4), k)]
    previous, targets, _ = teacher_forcing(answers, 5)
    found = beam_search(model, features, 5, width=64)
    for i in range(len(instances)):
        p = model.predict([np.repeat(features[i:i + 1], len(answers), 0), previous], verbose=0)
        steps = np.array([len(a) + 1 for a in answers])
        picked = np.take_along_axis(p, targets[..., None], -1)[..., 0]
        log_p = np.array([np.log(row[:k]).sum() for row, k in zip(picked, steps)])
        assert found[i].tolist() == answers[int(np.argmax(log_p))].tolist()


class _TableModel:
    """A stand-in pointer model whose next-position distribution is looked up by the prefix decoded so far."""

    def __init__(self, table, positions):
        self.table, self.positions = table, positions

    def predict_on_batch(self, inputs):
        _, previous = inputs
        out = np.zeros((*previous.shape, self.positions))
        for row, step in itertools.product(range(previous.shape[0]), range(previous.shape[1])):
            prefix = tuple(int(p) for p in previous[row, 1:step + 1])
            for position, p in self.table.get(prefix, {0: 1.0}).items():
                out[row, step, position] = p
        return out


def test_beam_search_keeps_a_finished_answer_at_its_own_probability():
    # Positions: 0 stop, 1 and 2 points. Answers: [1] (0.7 * 0.6 = 0.42), [1, 2] (0.28), [2, 1] (0.3).
    # What follows a stop must not count against [1]: the table gives it a 50/50 continuation.
    table = {(): {1: 0.7, 2: 0.3}, (1,): {0: 0.6, 2: 0.4}, (2,): {1: 1.0}, (1, 2): {0: 1.0}, (2, 1): {0: 1.0},
             (1, 0): {2: 0.5, 0: 0.5}}
    model = _TableModel(table, 3)
    features = np.zeros((1, 3, 4), np.float32)
    assert beam_search(model, features, 3, width=3)[0].tolist() == [0]
    assert beam_search(model, features, 3, width=3, choose=lambda i, answers: 1)[0].tolist() == [1, 0]
    assert greedy(model, features, 3)[0][0].tolist() == [0]


# -- the tasks through the pipeline --------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pointer-runs")
    os.environ["KERAS_RECURRENT_CACHE"] = str(root / "cache")
    made = {}
    for name in POINTER_TASKS:
        made[name] = verbs.train(name, quick=True, quiet=True, run_dir=str(root / name),
                                 set=["data.num_points=4-5", "data.num_examples=64"])
    return made


@pytest.mark.parametrize("name", POINTER_TASKS)
def test_every_task_trains_scores_and_plots(runs, name):
    run = runs[name]
    metrics = run.metrics
    assert metrics["invalid_share"] == 0.0
    if name == "tsp":
        base = metrics["baselines"]
        assert base["optimal"]["tour_length"] <= base["two_opt"]["tour_length"] <= base["nearest_neighbour"]["tour_length"]
        assert metrics["tour_length"] >= base["optimal"]["tour_length"] - 1e-9
        assert set(metrics["optimality_gap_percent_by_points"]) == {"4", "5"}
    else:
        assert 0.0 <= metrics["exact_match"] <= 1.0 and set(metrics["exact_match_by_points"]) == {"4", "5"}
    if name == "convex_hull":
        assert 0.0 < metrics["area_coverage"] <= 1.0 + 1e-9
    plots = set(os.listdir(os.path.join(run.path, "plots")))
    assert {"attention.png", "answers.png", "by_points.png", "learning_curves.png"} <= plots


def test_sort_learns_in_seconds(tmp_path):
    """Convergence on a small case: sorting 4 numbers well above the 1/24 of a random order."""
    run = verbs.train("sort", quiet=True, run_dir=str(tmp_path / "run"), epochs=4,
                      set=["data.num_points=4", "data.num_examples=3000", "data.held_out=200", "model.units=32"])
    assert run.metrics["exact_match"] > 0.5, run.metrics


def test_evaluate_on_other_sizes_leaves_the_run_alone(runs, capsys):
    path = runs["tsp"].path
    before = open(os.path.join(path, "metrics.json")).read()
    assert main(["evaluate", path, "--set", "data.num_points=7", "--set", "model.beam_width=2"]) == 0
    assert open(os.path.join(path, "metrics.json")).read() == before
    written = os.path.join(path, "evaluations", "data.num_points=7,model.beam_width=2")
    metrics = json.loads(open(os.path.join(written, "metrics.json")).read())
    assert metrics["decoding"] == "beam search (width 2)" and metrics["invalid_share"] == 0.0
    assert metrics["evaluated_on"]["settings"] == {"data.num_points": "7", "model.beam_width": "2"}
    assert os.path.isfile(os.path.join(written, "plots", "answers.png"))
    capsys.readouterr()
    assert main(["evaluate", path, "--set", "model.units=8"]) == 2
    assert "only data settings" in capsys.readouterr().err


def test_evaluate_refuses_data_the_model_cannot_read(runs, capsys):
    # The sentiment default: identical preprocessing, or a one-line refusal naming what differs.
    task = get_task("sentiment")
    assert task.compatible_info({"vocabulary": ["a"]}, {"vocabulary": ["a"]}) is None
    assert "vocabulary" in task.compatible_info({"vocabulary": ["a"]}, {"vocabulary": ["b"]})
    assert get_task("tsp").compatible_info(_info("tsp"), _info("convex_hull")) is not None
    assert main(["evaluate", runs["sort"].path, "--data", "some.csv"]) == 2
    assert "generates its own instances" in capsys.readouterr().err


def test_predict_lines_and_files(runs, tmp_path, capsys):
    path = runs["tsp"].path
    instances = tmp_path / "cities.txt"
    instances.write_text("0 0 1 0 1 1 0 1\n0.1 0.1 0.9 0.2 0.5 0.8 0.3 0.4\n\n")  # trailing blank lines are no inputs
    out = tmp_path / "tours.jsonl"
    assert main(["predict", path, str(instances), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(sorted(r["order"]) == [0, 1, 2, 3] for r in rows)
    assert rows[0]["length"] >= 4.0 - 1e-6  # no tour of the unit square's corners is shorter than its perimeter
    assert main(["predict", runs["sort"].path, "0.3 0.1 0.2 0.9", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out.splitlines()[-1])["order"]) == [0, 1, 2, 3]
    assert main(["predict", runs["convex_hull"].path, "0 0 1 0 1 1 0 1 0.5 0.5"]) == 0
    hull_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "area=" in hull_line


BAD_LINES = [
    ("0 0 1 0 1", "not a whole number of 2-D points"),
    ("0 0 1 x 1 1", "not a list of numbers"),
    ("0 0 nan 0 1 1", "NaN"),
    ("0 0 1 1", "needs at least 3"),
    ("0 0 1 0 1 1 0 1 0.5 0.5 0.2 0.2", "trained on at most 5"),
    ("0 0 1e308 0 1 1", "beyond the range of 32-bit floats"),
    ("", "a blank line between inputs"),  # skipping it would shift every later output off its line
]


@pytest.mark.parametrize("line,message", BAD_LINES, ids=[m for _, m in BAD_LINES])
def test_bad_predict_lines_get_one_line_naming_the_line(runs, tmp_path, capsys, line, message):
    instances = tmp_path / "cities.txt"
    instances.write_text("0 0 1 0 1 1\n" + line + "\n0 0 1 0 1 1\n")
    out = tmp_path / "tours.csv"
    out.write_text("kept\n")
    assert main(["predict", runs["tsp"].path, str(instances), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "line 2" in err, err
    assert out.read_text() == "kept\n"  # nothing written over


# -- decoding inside the export -------------------------------------------------------------------------
def _perturbed_copy(run_path, target):
    """A copy of a run whose weights are jittered, so that its answers differ from instance to instance
    (a quick run's are nearly constant) and a loop that disagrees with Python's shows."""
    import shutil

    copied = shutil.copytree(run_path, target)
    task, _, info, model = verbs.load_run(str(copied))
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(copied / "model.keras")
    return str(copied), task, info, model


# sort's `decode` is checked in tests/test_export.py with the other models of every task (random weights, both formats).
@pytest.mark.parametrize("name", ["convex_hull", "tsp"])
def test_the_exported_decode_loop_answers_as_python_does(runs, name, tmp_path, capsys):
    """`decode` in the SavedModel and in TFLite: on the test instances, the answers of Python's greedy decoding,
    answer for answer; on sets of mixed sizes padded with junk, valid answers of each set's own points. For tsp,
    docs/tasks/pointer.md's serving script, run as written where `keras_recurrent` cannot be imported, prints the
    tours and lengths `recurrent predict` prints."""
    import tensorflow as tf

    from keras_recurrent.pipelines.exporting import interpreter

    path, task, info, model = _perturbed_copy(runs[name].path, tmp_path / "run")
    assert main(["export", path, "--format", "savedmodel", "--quiet"]) == 0
    assert main(["export", path, "--format", "tflite", "--quiet"]) == 0
    saved = json.loads(open(os.path.join(path, "export", "savedmodel.json")).read())["decode"]
    lite = json.loads(open(os.path.join(path, "export", "model.tflite.json")).read())["decode"]
    assert saved["examples"] == lite["examples"] == 32 and saved["agreement"] == lite["agreement"] == 1.0
    assert "WHILE" in lite["ops"]

    rng = np.random.default_rng(1)
    counts = np.array([4, 5, 4, 5, 5, 4], np.int32)
    points = rng.random((len(counts), info["max_points"], info["dims"])).astype(np.float32)  # junk past each count
    instances = [p[:n] for p, n in zip(points, counts)]
    expected, _ = greedy(model, encode_points(instances, info["max_points"] + 1), info["max_points"] + 1)
    reloaded = tf.saved_model.load(os.path.join(path, "export", "savedmodel"))
    out = reloaded.decode(points=tf.constant(points), count=tf.constant(counts))
    decode = interpreter(open(lite["path"], "rb").read()).get_signature_runner("decode")
    answers = []
    for i, (want, n) in enumerate(zip(expected, counts)):
        one = decode(points=points[i: i + 1], count=counts[i: i + 1])
        for got in (out, one):
            k = 0 if got is one else i
            size = int(got["size"][k])
            assert list(np.asarray(got["order"][k])[:size]) == list(want) and (np.asarray(got["order"][k])[size:] == -1).all()
            if name == "tsp":
                assert float(got["tour_length"][k]) == pytest.approx(problems.tour_length(instances[i], want), abs=1e-5)
        if name == "tsp":
            assert sorted(want) == list(range(n))
        answers.append(tuple(want))
    assert len(set(answers)) > 1  # answers that depend on the points
    if name == "tsp":
        _served_like_predict(path, tmp_path, capsys)


def _docs_serving_script() -> str:
    text = open(os.path.join(os.path.dirname(__file__), "..", "docs", "tasks", "pointer.md")).read()
    return text.split("```python\n# serve_tours.py", 1)[1].split("```", 1)[0]


def _served_like_predict(path, tmp_path, capsys):
    import subprocess
    import sys

    script = tmp_path / "serve_tours.py"
    script.write_text("# serve_tours.py" + _docs_serving_script())
    cities = tmp_path / "cities.txt"
    cities.write_text("0 0 1 0 1 1 0 1\n0.1 0.1 0.9 0.2 0.5 0.8 0.3 0.4 0.7 0.7\n0.2 0.9 0.4 0.1 0.8 0.6\n")
    blocked = ("import runpy, sys; sys.modules['keras_recurrent'] = None; sys.argv = sys.argv[1:]; "
               "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", blocked, str(script), path, str(cities)], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    capsys.readouterr()
    assert main(["predict", path, str(cities)]) == 0
    predicted = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()[-3:]]
    served = [line.split(" length=") for line in done.stdout.strip().splitlines()]
    assert [order for order, _ in served] == [order for order, _ in predicted]
    for (_, got), (_, want) in zip(served, predicted):
        assert float(got) == pytest.approx(float(want.split("=")[1]), abs=1e-5)


def test_the_exported_loop_refuses_chosen_and_padding_positions_itself():
    """With the network's own exclusion switched off, the loop alone keeps every tour a permutation of the set's
    points; without its guard (broken on purpose here) the same network repeats points."""
    import keras
    import tensorflow as tf

    from keras_recurrent.pipelines.config import resolve_config
    from keras_recurrent.tasks.pointer.exported import decode_endpoint

    task = get_task("tsp")
    info = _info("tsp", n=6)
    keras.utils.set_random_seed(0)
    model = task.models.build("pointer", resolve_config(task, quick=True).model, info)
    model.get_layer("pointer").exclude_chosen = False
    rng = np.random.default_rng(0)
    counts = rng.integers(3, 7, size=16).astype(np.int32)
    points = rng.random((16, 6, 2)).astype(np.float32)

    def orders(guard):
        out = decode_endpoint(task, model, info, guard=guard).fn(tf.constant(points), tf.constant(counts))
        return [np.asarray(o)[: int(s)] for o, s in zip(out["order"], out["size"])]

    assert all(sorted(o) == list(range(n)) for o, n in zip(orders(True), counts))
    assert not all(sorted(o) == list(range(n)) for o, n in zip(orders(False), counts))


"""Run directories as units: states, names, locks, atomic writes and the `latest` link (no training here)."""

import json
import os

import pytest

from keras_recurrent.pipelines import rundir
from keras_recurrent.tasks import UserError

CONFIG = {"task": "sentiment", "model_name": "bigru", "data_spec": None, "train": {"epochs": 3, "seed": 1},
          "data": {"encoding": "utf-8"}, "model": {"units": 8}}


def test_config_hash_is_short_stable_and_order_free():
    shuffled = {k: CONFIG[k] for k in reversed(list(CONFIG))}
    assert rundir.config_hash(CONFIG) == rundir.config_hash(shuffled)
    assert len(rundir.config_hash(CONFIG)) == 8 and int(rundir.config_hash(CONFIG), 16) >= 0
    other = json.loads(json.dumps(CONFIG))
    other["train"]["seed"] = 2
    assert rundir.config_hash(other) != rundir.config_hash(CONFIG)


def test_run_path_default_and_explicit(tmp_path):
    expected = os.path.join("root", "sentiment", f"bigru-{rundir.config_hash(CONFIG)}")
    assert rundir.run_path(CONFIG, None, "root") == expected
    assert rundir.run_path(CONFIG, str(tmp_path / "mine"), "root") == str(tmp_path / "mine")


def test_states(tmp_path):
    run = tmp_path / "run"
    assert rundir.state_of(str(run)) == rundir.NEW  # missing
    run.mkdir()
    assert rundir.state_of(str(run)) == rundir.NEW  # empty
    (run / rundir.LOCK_NAME).write_text("1")
    (run / rundir.WORKERS_DIR).mkdir()
    assert rundir.state_of(str(run)) == rundir.NEW  # only the lock and other workers' files
    (run / "config.json").write_text("{}")
    assert rundir.state_of(str(run)) == rundir.UNFINISHED
    (run / "metrics.json").write_text("{}")
    assert rundir.state_of(str(run)) == rundir.UNFINISHED  # no model yet
    (run / "model.keras").write_text("")
    assert rundir.state_of(str(run)) == rundir.FINISHED
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("")
    with pytest.raises(UserError, match="exists and is not a run directory"):
        rundir.state_of(str(foreign))
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="exists and is not a directory"):
        rundir.state_of(str(tmp_path / "file"))


def test_choose_run_dir_refuses_another_config_naming_what_differs(tmp_path):
    run = tmp_path / "run"
    assert rundir.choose_run_dir(CONFIG, str(run)) == (str(run), rundir.NEW)
    run.mkdir()
    rundir.write_json(str(run / "config.json"), CONFIG)
    assert rundir.choose_run_dir(CONFIG, str(run)) == (str(run), rundir.UNFINISHED)
    other = json.loads(json.dumps(CONFIG))
    other["train"]["epochs"], other["model"]["units"] = 4, 16
    with pytest.raises(UserError, match=r"different config \(model.units, train.epochs differ\)"):
        rundir.choose_run_dir(other, str(run))
    # A key only one side has (a setting added since) counts as a difference too.
    grown = json.loads(json.dumps(CONFIG))
    grown["model"]["pooling"] = "max"
    with pytest.raises(UserError, match=r"\(model.pooling differ\)"):
        rundir.choose_run_dir(grown, str(run))
    # A finished run is checked the same way before it is reported as done.
    (run / "metrics.json").write_text("{}")
    (run / "model.keras").write_text("")
    assert rundir.choose_run_dir(CONFIG, str(run)) == (str(run), rundir.FINISHED)
    with pytest.raises(UserError, match="different config"):
        rundir.choose_run_dir(other, str(run))


def test_atomic_path_renames_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with rundir.atomic_path(str(target)) as tmp:
            assert os.path.dirname(tmp) == str(tmp_path) and tmp.endswith(".txt")
            open(tmp, "w").write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with rundir.atomic_path(str(target)) as tmp:
        open(tmp, "w").write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]
    rundir.write_json(str(tmp_path / "deep" / "x.json"), {"b": 1, "a": [2]})  # parent folders are made
    assert rundir.read_json(str(tmp_path / "deep" / "x.json")) == {"b": 1, "a": [2]}
    # Written for people: keys in the order given (a config reads task first), indented by two.
    assert (tmp_path / "deep" / "x.json").read_text() == '{\n  "b": 1,\n  "a": [\n    2\n  ]\n}\n'


def test_replace_dir_swaps_a_finished_folder_in(tmp_path):
    final, new = tmp_path / "export", tmp_path / "tmp-export"
    final.mkdir()
    (final / "old.bin").write_text("old")
    new.mkdir()
    (new / "new.bin").write_text("new")
    rundir.replace_dir(str(new), str(final))
    assert sorted(os.listdir(final)) == ["new.bin"] and sorted(os.listdir(tmp_path)) == ["export"]
    again = tmp_path / "again"
    again.mkdir()
    rundir.replace_dir(str(again), str(tmp_path / "fresh"))  # no previous folder
    assert (tmp_path / "fresh").is_dir() and not again.exists()


@pytest.fixture
def deadline():
    """Fail instead of hanging when a lock that should refuse at once blocks."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("a lock blocked instead of refusing")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_lock_names_the_holder_and_is_released(tmp_path, deadline):
    run = tmp_path / "run"
    with rundir.locked(str(run)):
        assert (run / rundir.LOCK_NAME).read_text() == str(os.getpid())
        (run / "config.json").write_text("{}")
        with pytest.raises(UserError, match=f"run directory {run} is in use by process {os.getpid()}"):
            with rundir.locked(str(run)):
                pass
        with pytest.raises(UserError, match="sweep directory"):
            with rundir.locked(str(run), what="sweep directory"):
                pass
    with rundir.locked(str(run)):  # released when the block ended
        pass
    assert (run / "config.json").exists()  # a directory with work in it stays


def test_a_failed_start_leaves_no_folders_behind(tmp_path):
    deep = tmp_path / "saved" / "task" / "run"
    with pytest.raises(RuntimeError):
        with rundir.locked(str(deep)):
            raise RuntimeError("bad data")
    assert os.listdir(tmp_path) == []  # saved/, saved/task/ and the run folder were all made here
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError):
        with rundir.locked(str(existing / "run")):
            raise RuntimeError("bad data")
    assert os.listdir(tmp_path) == ["mine"] and os.listdir(existing) == []  # not a folder it did not make
    kept = tmp_path / "kept"
    with pytest.raises(RuntimeError):
        with rundir.locked(str(kept)):
            (kept / ".attempt").write_text("")  # anything besides the lock means work was written
            raise RuntimeError("failed later")
    assert (kept / ".attempt").exists()
    (tmp_path / "taken").write_text("")
    with pytest.raises(UserError, match="exists and is not a directory"):
        with rundir.locked(str(tmp_path / "taken")):
            pass


def test_latest_points_at_the_newest_run_and_spares_a_real_folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        rundir.point_latest(str(tmp_path / name))
        assert os.readlink(tmp_path / "latest") == name
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "latest"]  # no temporary link left
    other = tmp_path / "other"
    (other / "latest").mkdir(parents=True)
    (other / "run").mkdir()
    rundir.point_latest(str(other / "run"))
    assert (other / "latest").is_dir() and not (other / "latest").is_symlink()


def test_flat_names():
    assert rundir._flat({"train": {"epochs": 3}, "task": "x"}) == {"train.epochs": 3, "task": "x"}

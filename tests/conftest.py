import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


# `make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`: the tests of a file stay on one
# worker, so a module fixture (a quick run several tests read) is built once. (`--dist loadgroup` with
# xdist_group marks did the same until pytest 9.2, whose structured node ids silently undo xdist's grouping,
# pytest-dev/pytest-xdist#1386: every module fixture was then built on both workers.) Files are handed out
# in the order below, the longest first, so that no long file starts last while the other worker idles
# (xdist's own reordering sorts files by their number of tests, which put the two-test JAX matrix, the
# longest file, last). A file not listed goes after these. Seconds are a clean run's on 2 cores.
LONGEST_FIRST = (
    "test_backends.py",      # the JAX matrix: ~190 s
    "test_distribution.py",  # mirrored and multi-worker children: ~180 s
    "test_tune.py",
    "test_forecasting.py",
    "test_runs.py",
    "test_export.py",
    "test_pointer.py",
    "test_captioning.py",
    "test_memory_tasks.py",
    "test_sentiment_data.py",
    "test_forecasting_collections.py",
    "test_cli.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order


SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def quick_sentiment_run(tmp_path_factory) -> str:
    """One finished quick sentiment run (the default model on the embedded corpus) for the tests that read,
    predict with, evaluate or export a run: trained once a test worker. Tests must not change what it holds
    (evaluating elsewhere and exporting write beside it, into evaluations/ and export/)."""
    from keras_recurrent import pipelines

    return pipelines.train("sentiment", quick=True, quiet=True,
                           run_dir=str(tmp_path_factory.mktemp("quick-sentiment") / "run")).path


@pytest.fixture
def polarity_dir():
    path = SHARED_DATA / "rt_polarity"
    if not path.is_dir():
        pytest.skip("../shared/data/rt_polarity is not beside the project")
    return str(path)


def _review(i: int, positive: bool) -> str:
    return f"{'a fine and good' if positive else 'a dull and bad'} film number {i}"


@pytest.fixture
def csv_file(tmp_path):
    rows = ["review,sentiment"] + [f"\"{_review(i, i % 2 == 0)}\",{'pos' if i % 2 == 0 else 'neg'}" for i in range(60)]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def imdb_dir(tmp_path):
    """A tiny tree in the aclImdb layout: train/ and test/, each with pos/ and neg/."""
    root = tmp_path / "aclImdb"
    for split, count in (("train", 40), ("test", 12)):
        for label in ("pos", "neg"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count // 2):
                (folder / f"{i}_7.txt").write_text(_review(i, label == "pos"), encoding="utf-8")
    return str(root)


@pytest.fixture
def cp1252_lines_dir(tmp_path):
    """The rt-polarity layout with a cp1252 byte (0x85, an ellipsis) that is not valid UTF-8."""
    folder = tmp_path / "polarity"
    folder.mkdir()
    pos = b"\n".join(_review(i, True).encode() + (b" \x85" if i == 3 else b"") for i in range(30))
    neg = b"\n".join(_review(i, False).encode() for i in range(30))
    (folder / "tiny.pos").write_bytes(pos + b"\n")
    (folder / "tiny.neg").write_bytes(neg + b"\n")
    return str(folder)

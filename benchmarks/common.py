"""Helpers every benchmark shares: the machine record and writing results/<name>.json."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


def assets_option(parser) -> None:
    """`--assets DIR`: the pretrained files (glove.6B.zip, Keras's weight files), by their published names."""
    parser.add_argument("--assets", default="", metavar="DIR",
                        help="a folder holding the pretrained files by their published names (glove.6B.zip, "
                             "keras.applications weight files), served to the runs as their mirror; without it, "
                             "variants that need them are left out (this machine cannot download them)")


def use_assets(folder: str) -> str:
    """Point the runs' one download path at `folder` (file:// mirror); the URI, for the results."""
    import pathlib

    from keras_recurrent.tasks.assets import MIRROR_VARIABLE

    if not folder:
        return ""
    if not os.path.isdir(folder):
        raise SystemExit(f"--assets {folder}: not a directory")
    os.environ[MIRROR_VARIABLE] = pathlib.Path(folder).resolve().as_uri()
    return os.environ[MIRROR_VARIABLE]


def write_result(name: str, result: dict) -> str:
    from keras_recurrent.pipelines import rundir
    from keras_recurrent.pipelines.environment import environment_record

    record = {"benchmark": name, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "environment": environment_record(result.get("settings", {}).get("seed", 0)), **result}
    path = os.path.join(RESULTS, f"{name}.json")
    rundir.write_json(path, record)
    print(json.dumps({k: v for k, v in record.items() if k != "environment"}, indent=2))
    print(f"wrote {path}")
    return path


@contextlib.contextmanager
def previous_result(name: str):
    """Hold an exclusive lock on results/<name>.json and yield what it holds ({} if nothing): for
    benchmarks whose parts run in separate processes and merge into one file. Write inside the block."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.json")
    with open(os.path.join(RESULTS, f".{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = {}
        if os.path.isfile(path):
            with open(path) as f:
                previous = json.load(f)
        yield previous

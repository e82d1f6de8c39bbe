"""A warm test runner for mutation testing: TensorFlow is imported once, each mutant's tests run in a fork.

cosmic-ray runs its test command once per mutant. A fresh `python -m pytest` spends most of a mutant's
time importing TensorFlow and Keras (6-9 s on the 2-core machine) before any test runs. Here a server
imports them once and forks a child per request; the child imports this project's modules fresh (the
server never imports them, so the mutated file on disk is what the child reads), runs pytest and exits
with pytest's status, which the client returns to cosmic-ray.

    python tests/mutation_runner.py serve SOCKET            # stays up; make mutation starts it
    python tests/mutation_runner.py run SOCKET -- ARGS...   # cosmic-ray's test command: pytest ARGS
    python tests/mutation_runner.py sample SESSION N        # keep a uniform random sample of N mutants

The client needs only the standard library, so it starts in milliseconds. Bytecode is neither written
nor read for the mutated tree (the child sets `sys.dont_write_bytecode`, and `make mutation` copies the
sources without `__pycache__`): two mutants of one size written in the same second would otherwise
share a stale `.pyc`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

TIMEOUT_S = 300  # a mutant that hangs (an infinite loop) is killed and counted as killed by timeout


def serve(path: str) -> None:
    for key, value in (("TF_CPP_MIN_LOG_LEVEL", "3"), ("KERAS_BACKEND", "tensorflow"), ("MPLBACKEND", "Agg")):
        os.environ.setdefault(key, value)  # what tests/conftest.py sets, before the imports it would affect
    import keras  # noqa: F401  the slow imports, done once
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import tensorflow  # noqa: F401

    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    print(f"mutation runner: serving on {path}", flush=True)
    while True:
        connection, _ = server.accept()
        with connection:
            request = json.loads(connection.makefile("r").readline())
            connection.sendall(f"{_run_forked(request)}\n".encode())


def _run_forked(request: dict) -> int:
    child = os.fork()
    if child == 0:  # the child: this project's modules are imported here, from the (mutated) files
        try:
            import pytest

            sys.dont_write_bytecode = True
            os.chdir(request["cwd"])
            sys.path[:0] = [p for p in request["pythonpath"].split(os.pathsep) if p] + [request["cwd"]]
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                os.dup2(null.fileno(), 2)
            os._exit(int(pytest.main(request["args"])))
        except BaseException:
            os._exit(99)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(child, signal.SIGKILL))
    signal.alarm(TIMEOUT_S)
    _, status = os.waitpid(child, 0)
    signal.alarm(0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 124


def run(path: str, args: list) -> int:
    """pytest's exit status for `args`, from the server; without a server, from pytest run here (slowly).

    A failure to reach the server must never look like a failing test: cosmic-ray would count the mutant
    as killed (this happened once, when the server was stopped before cosmic-ray)."""
    request = {"cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH", ""), "args": args}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            client.sendall((json.dumps(request) + "\n").encode())
            return int(client.makefile("r").readline())
    except (OSError, ValueError):
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])


def sample(session: str, size: int, seed: int = 0) -> None:
    """Keep `size` of the session's mutants, drawn uniformly with a fixed seed; drop the rest before `exec`.

    A module of a thousand mutants takes hours (each runs the tests again); the killed share of a uniform
    sample of a few hundred estimates the module's score within a few points, and the seed makes the
    sample the same on every machine."""
    import random
    import sqlite3

    with sqlite3.connect(session) as db:
        jobs = sorted(row[0] for row in db.execute("SELECT job_id FROM work_items"))
        dropped = set(jobs) - set(random.Random(seed).sample(jobs, min(size, len(jobs))))
        for table in ("work_results", "mutation_specs", "work_items"):  # children before the parent row
            db.executemany(f"DELETE FROM {table} WHERE job_id = ?", [(job,) for job in dropped])
    print(f"mutation sample: kept {len(jobs) - len(dropped)} of {len(jobs)} mutants (seed {seed})")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run" and sys.argv[3] == "--":
        sys.exit(run(sys.argv[2], sys.argv[4:]))
    elif len(sys.argv) == 4 and sys.argv[1] == "sample":
        sample(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: mutation_runner.py serve SOCKET | run SOCKET -- PYTEST_ARGS... | sample SESSION N")

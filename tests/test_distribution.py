"""Training beyond one device: MirroredStrategy on the CPU split in two, multi-worker on localhost
with a worker killed and restarted, and the one-line errors of bad settings.

Strategies configure devices before TensorFlow starts, so every run here is a child process.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from keras_recurrent.pipelines.callbacks import read_history
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import model_families

RECURRENT = [sys.executable, "-m", "keras_recurrent"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _numbers(metrics):
    return {k: v for k, v in metrics.items() if k != "train_seconds_this_process"}


# One task per kind of input pipeline: one tensor (sentiment), windows by index (forecasting), an input with
# sample weights (copy; sort's inputs with sample weights take the same path). The language model, adding
# and bAbI feed the same structures as sentiment and copy. Copy asks for XLA, which a strategy must leave
# out: an XLA step cannot reach the variables mirrored on the other device.
MIRRORED = [t for t in ("sentiment", "forecasting", "copy") if t in model_families()]


@pytest.mark.slow
@pytest.mark.parametrize("task", MIRRORED)
def test_mirrored_trains_every_task_on_two_replicas(task, tmp_path):
    run = tmp_path / "run"
    xla = ["--set", "train.xla=true"] if task == "copy" else []
    done = subprocess.run([*RECURRENT, "train", task, "--quick", "--quiet", "--strategy", "mirrored", "--run-dir", str(run),
                           *xla], env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((run / "environment.json").read_text())["distribution"]
    assert record["strategy"] == "mirrored" and record["replicas"] == 2
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()


def _ports(count=2):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_worker(index, ports, run_dir, epochs):
    tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    # The adding task: the cheapest quick run, so the six processes cost their start-up and little more.
    command = [*RECURRENT, "train", "adding", "--quick", "--quiet", "--strategy", "multiworker", "--epochs", str(epochs),
               "--set", "train.patience=0", "--run-dir", str(run_dir)]  # every epoch runs: the kill lands mid-run
    return subprocess.Popen(command, env=dict(ENV, TF_CONFIG=json.dumps(tf_config)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(processes, timeout=240):
    """Wait for every process; whatever happens, none outlives the test (a lone worker waits forever)."""
    outputs = []
    try:
        for p in processes:
            outputs.append(p.communicate(timeout=timeout))
    finally:
        for p in processes:
            p.kill()
    return outputs


@pytest.mark.slow
def test_multiworker_run_survives_a_killed_worker(tmp_path):
    """Two workers on localhost; worker 1 is killed mid-run, the chief stops with a one-line error, both
    are started again and the run finishes exactly as an uninterrupted two-worker run does."""
    epochs = 4  # the workers run in step, so the chief is at most an epoch ahead when worker 1 dies (killed after 2)
    reference = tmp_path / "reference"
    ports = _ports()
    outputs = _finish([_start_worker(i, ports, reference, epochs) for i in (0, 1)])
    assert (reference / "metrics.json").is_file(), outputs[0][1][-3000:]
    assert (reference / "workers" / "1" / "history.csv").is_file()
    assert read_history(reference / "history.csv") == read_history(reference / "workers" / "1" / "history.csv")

    run = tmp_path / "faulty"
    ports = _ports()
    chief, worker = _start_worker(0, ports, run, epochs), _start_worker(1, ports, run, epochs)
    deadline = time.time() + 180
    while len(read_history(run / "workers" / "1" / "history.csv")) < 2 and time.time() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    (_, chief_err), _ = _finish([chief, worker])
    assert chief.returncode == 2 and "multi-worker training stopped" in chief_err
    assert chief_err.strip().count("\n") == 0  # one line
    done_before = len(read_history(run / "history.csv"))
    assert 2 <= done_before < epochs and not (run / "metrics.json").exists()

    ports = _ports()
    outputs = _finish([_start_worker(i, ports, run, epochs) for i in (0, 1)])
    assert (run / "metrics.json").is_file(), outputs[0][1][-3000:]
    assert read_history(run / "history.csv") == read_history(reference / "history.csv")  # nothing lost or repeated
    assert _numbers(json.loads((run / "metrics.json").read_text())) == _numbers(json.loads((reference / "metrics.json").read_text()))


@pytest.mark.parametrize("args,env,message", [
    (["--strategy", "pipeline"], {}, "--strategy 'pipeline': expected one of default, mirrored, multiworker"),
    (["--strategy", "multiworker"], {"TF_CONFIG": ""}, "--strategy multiworker needs TF_CONFIG"),
    (["--strategy", "multiworker"], {"TF_CONFIG": "{\"cluster\": {}}"}, "TF_CONFIG: expected"),
    (["--strategy", "multiworker"], {"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}})},
     "index below 1"),
])
def test_bad_strategy_settings_are_one_line(args, env, message, tmp_path, capsys, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["train", "adding", "--quick", "--run-dir", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()

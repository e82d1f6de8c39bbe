"""One writer per run directory: a second process gets a one-line error naming the holder; a killed holder leaves no stale lock."""

import os
import signal
import subprocess
import sys

import pytest

from keras_recurrent.pipelines import rundir
from keras_recurrent.pipelines.cli import main
from keras_recurrent.tasks import UserError

HOLD = (
    "import sys, time\n"
    "from keras_recurrent.pipelines import rundir\n"
    "with rundir.locked(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


@pytest.fixture
def holder(tmp_path):
    """A separate process holding the lock on tmp_path/run until killed."""
    path = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield path, process
    process.kill()
    process.wait()


def test_second_writer_is_refused_with_the_holders_pid(holder, capsys):
    path, process = holder
    code = main(["train", "sentiment", "--quick", "--quiet", "--run-dir", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (f"recurrent: error: run directory {path} is in use by process {process.pid}; "
                   f"wait for it or choose another")
    assert os.listdir(path) == [rundir.LOCK_NAME]  # nothing written by the refused process


def test_a_killed_holder_leaves_no_stale_lock(holder):
    path, process = holder
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with rundir.locked(str(path)):  # taken at once: the kernel released the dead process's lock
        assert open(path / rundir.LOCK_NAME).read() == str(os.getpid())


def test_lock_in_the_same_process_is_exclusive_too(tmp_path):
    with rundir.locked(str(tmp_path / "run")):
        with pytest.raises(UserError, match=f"in use by process {os.getpid()}"):
            with rundir.locked(str(tmp_path / "run")):
                pass


def test_failed_start_leaves_no_directory(tmp_path):
    path = tmp_path / "never"
    with pytest.raises(RuntimeError):
        with rundir.locked(str(path)):
            raise RuntimeError("data failed to load")
    assert not path.exists()


def test_run_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(["train", "sentiment", "--quick", "--quiet", "--run-dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a directory" in err
    assert target.read_text() == "mine"

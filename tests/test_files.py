"""`tasks.files`: every file written atomically and with the mode the user's umask gives."""

import os
import stat

import numpy as np
import pytest

from keras_recurrent.tasks import files


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected_file, expected_dir", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                               (0o002, 0o664, 0o775)])
def test_every_writer_gives_the_mode_open_would(umask, tmp_path, mask, expected_file, expected_dir):
    umask(mask)
    files.write_text(str(tmp_path / "a.txt"), "x")
    files.write_json(str(tmp_path / "b.json"), {"a": 1})
    files.write_array(str(tmp_path / "c.npy"), np.zeros(3))
    files.save_gif(np.zeros((2, 4, 4, 1)), str(tmp_path / "d.gif"))
    with open(tmp_path / "plain.txt", "w") as f:  # what the writers must match
        f.write("x")
    for name in ("a.txt", "b.json", "c.npy", "d.gif", "plain.txt"):
        assert mode(tmp_path / name) == expected_file, name
    files.write_text(str(tmp_path / "made" / "e.txt"), "x")  # a folder the writer makes on the way
    assert mode(tmp_path / "made") == expected_dir and mode(tmp_path / "made" / "e.txt") == expected_file


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["kept.txt"]

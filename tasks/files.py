"""Writing files: whole or not at all, with the permissions the user's umask gives, never over a user's file.

Every file the project writes goes through `atomic_path`: the content goes to a temporary name in the
target's directory and is renamed into place (`os.replace` is atomic on one file system), so an
interruption never leaves half a file. `tempfile.mkstemp` creates its file with mode 0600 whatever the
umask; a run directory, a served model or a prediction file made that way is unreadable to anyone else,
so the temporary file is given the mode `open()` would have given a new file (0666 less the umask)
before anything is written into it.

Files a task makes for a user's input (a predicted clip beside the clip) are not written by the task:
`predict` returns an `OutputFile` in its row, and the pipeline chooses the name (a fresh one beside the
input, or one in the directory the user named) and refuses to replace anything the user did not name.

This module sits on the tasks floor so that tasks and pipelines share it; it imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Callable

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask (reading it means setting it, so the two steps are kept together)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0666 less the umask (0644 under umask 022)."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """Yield a temporary path beside `path`, mode as `open()` would give; rename it onto `path` if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1], dir=directory)
    try:
        os.fchmod(fd, file_mode())  # mkstemp's 0600 would survive the rename
    finally:
        os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def replace_dir(tmp: str, final: str) -> None:
    """The directory form of `atomic_path`: move the finished `tmp` onto `final`; an older `final` is
    removed only once the new one is in place."""
    old = None
    if os.path.exists(final):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(final))
        os.rename(final, os.path.join(old, "x"))
    os.rename(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path: str, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def cache_directory(explicit: str = "") -> str:
    """Where work that can be redone is kept between runs (exact TSP tours, classical forecasts): the
    given folder, else $KERAS_RECURRENT_CACHE, else ~/.cache/keras_recurrent."""
    return explicit or os.environ.get("KERAS_RECURRENT_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_recurrent")


def write_array(path: str, array) -> None:
    import numpy as np

    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, np.asarray(array))


def save_gif(frames, path: str, seconds_per_frame: float = 0.2) -> None:
    """An animated GIF of `frames` (time, rows, columns, channels), values in [0, 1], looping forever."""
    import numpy as np
    from PIL import Image

    pixels = np.clip(np.rint(np.asarray(frames, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    if pixels.ndim == 4 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    images = [Image.fromarray(frame) for frame in pixels]
    with atomic_path(path, ".gif") as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0,
                       duration=int(seconds_per_frame * 1000))


def instance_lines(path: str, encoding: str = "utf-8"):
    """Yield (line number, text) of a file of one input a line, streaming.

    A blank line between inputs is refused (`UserError` naming the file and line): skipping it would
    shift every later output off its input's line, and keeping it has no input to predict. Blank lines
    at the end of the file (a trailing newline or two) are not inputs and are passed over.
    """
    from keras_recurrent.tasks.base import UserError

    blank = None  # the first blank line since the last input
    try:
        with open(path, encoding=encoding) as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    blank = blank or number
                    continue
                if blank is not None:
                    raise UserError(f"{path}, line {blank}: a blank line between inputs (one input a line; remove it)")
                yield number, text
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not valid {encoding} (byte {e.start}); pass --encoding") from None


@dataclass
class OutputFile:
    """A file `Task.predict` wants written for one input, in place of a path in its row.

    `source` is the input it belongs to (the file is named after it), `suffix` what follows the input's
    stem (".predicted.npy"), and `write(path)` writes the content to `path` (with `atomic_path`). The
    pipeline picks the path and puts it in the row; see `pipelines.outputs`.
    """

    source: str
    suffix: str
    write: Callable[[str], None]


__all__ = ["OutputFile", "atomic_path", "cache_directory", "instance_lines", "file_mode", "replace_dir",
           "save_gif", "write_array", "write_json", "write_text"]

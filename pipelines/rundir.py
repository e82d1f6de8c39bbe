"""Run directories: `saved_models/<task>/<run-name>/`, written so an interruption never leaves half a file.

Every file goes to a temporary name in the same directory and is renamed into place (`tasks.files`:
atomic on one file system, and with the mode the user's umask gives). A run directory is in one of three states:

- new: it does not exist (or is empty);
- unfinished: it holds `config.json` but no `metrics.json`; running the same command resumes it;
- finished: it holds `model.keras` and `metrics.json`; nothing overwrites it.

The default run name is `<model>-<hash of the resolved config>`, so the same command (same config,
same seed) finds its own unfinished run and resumes it.

A process that writes a run directory (train, evaluate, export) or a sweep directory holds its lock
for as long as it writes (`locked`): a second writer gets a one-line error naming the holder's pid.
The lock is an `flock` on `<dir>/.lock`, which the kernel releases when its process dies, so a lock left
by a killed process is never stale: the next writer simply takes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil

from keras_recurrent.tasks import UserError, files

DEFAULT_ROOT = "saved_models"
NEW, UNFINISHED, FINISHED = "new", "unfinished", "finished"
LOCK_NAME = ".lock"


@contextlib.contextmanager
def locked(directory: str, what: str = "run directory"):
    """Hold an exclusive lock on `directory` (created if missing) for the block; UserError if another process holds it.

    A directory this call created, that holds nothing but the lock when the block ends (the work failed
    before writing anything), is removed again, so a failed start leaves no trace.
    """
    created = not os.path.isdir(directory)
    # The top-most folder this call creates (saved_models/ itself on a first run), to remove on failure.
    top = os.path.abspath(directory)
    while not os.path.exists(os.path.dirname(top)) and os.path.dirname(top) != top:
        top = os.path.dirname(top)
    try:
        os.makedirs(directory, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"{directory}: exists and is not a directory; choose another {what}") from None
    path = os.path.join(directory, LOCK_NAME)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(f"{what} {directory} is in use by process {holder}; wait for it or choose another") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield directory
        finally:
            if created and os.listdir(directory) == [LOCK_NAME]:
                shutil.rmtree(directory, ignore_errors=True)
                parent = os.path.dirname(os.path.abspath(directory))
                while len(parent) >= len(top) and os.path.isdir(parent) and not os.listdir(parent):
                    os.rmdir(parent)
                    parent = os.path.dirname(parent)
    finally:
        handle.close()  # releases the flock


# One writer for every file (atomic, with the user's umask): shared with the tasks, which sit a floor below.
atomic_path, replace_dir, write_text, write_json = files.atomic_path, files.replace_dir, files.write_text, files.write_json
write_array, save_gif = files.write_array, files.save_gif


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_figure(fig, path: str) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def save_model(model, path: str) -> None:
    with atomic_path(path, ".keras") as tmp:
        model.save(tmp)


def config_hash(config_dict: dict) -> str:
    canonical = json.dumps(config_dict, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


WORKERS_DIR = "workers"


def state_of(run_dir: str) -> str:
    if os.path.isfile(os.path.join(run_dir, "metrics.json")) and os.path.isfile(os.path.join(run_dir, "model.keras")):
        return FINISHED
    if os.path.isfile(os.path.join(run_dir, "config.json")):
        return UNFINISHED
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UserError(f"--run-dir {run_dir}: exists and is not a directory; choose another")
    # `workers/` is what the other workers of a multi-worker run write while the chief starts.
    if os.path.isdir(run_dir) and set(os.listdir(run_dir)) - {LOCK_NAME, WORKERS_DIR}:
        raise UserError(f"--run-dir {run_dir}: exists and is not a run directory; choose another")
    return NEW


def _flat(tree: dict) -> dict:
    """{"train": {"epochs": 3}} -> {"train.epochs": 3}"""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def run_path(config_dict: dict, run_dir: str | None, root: str = DEFAULT_ROOT) -> str:
    """`run_dir` if given, else `<root>/<task>/<model>-<config hash>`."""
    if run_dir is not None:
        return run_dir
    return os.path.join(root, config_dict["task"], f"{config_dict['model_name']}-{config_hash(config_dict)}")


def choose_run_dir(config_dict: dict, run_dir: str | None, root: str = DEFAULT_ROOT) -> tuple[str, str]:
    """Return (run directory, state) for a resolved config; never a directory holding another config."""
    run_dir = run_path(config_dict, run_dir, root)
    state = state_of(run_dir)
    if state != NEW:
        saved = read_json(os.path.join(run_dir, "config.json"))
        if saved != config_dict:
            old, new = _flat(saved), _flat(config_dict)
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise UserError(
                f"--run-dir {run_dir}: holds a run with a different config ({', '.join(changed)} differ); "
                f"choose another --run-dir"
            )
    return run_dir, state


def point_latest(run_dir: str) -> None:
    """Make `<task dir>/latest` a symlink to this run, replaced atomically."""
    parent = os.path.dirname(os.path.abspath(run_dir))
    link = os.path.join(parent, "latest")
    if os.path.exists(link) and not os.path.islink(link):
        return  # someone's own directory called "latest": leave it alone
    tmp = os.path.join(parent, f".latest-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)
    os.symlink(os.path.basename(os.path.abspath(run_dir)), tmp)
    os.replace(tmp, link)

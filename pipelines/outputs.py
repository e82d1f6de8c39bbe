"""Where `predict` writes the files a task makes for an input (`tasks.files.OutputFile`), and never over a user's file.

    recurrent predict RUN clip.npy                      -> clip.predicted.npy, or clip.predicted-2.npy if that exists
    recurrent predict RUN clip.npy --output-dir out/    -> out/clip.predicted.npy; refused if it exists
    recurrent predict RUN clip.npy --overwrite          -> clip.predicted.npy, replacing it

Rules, in order:
- with `--output-dir DIR` the files go to DIR under the input's stem; a file already there is an error
  unless `--overwrite`;
- without it they go beside the input: the plain name if it is free (or `--overwrite`), else the first
  `NAME-2`, `NAME-3`, ... free for every file of that input, so an input's files keep one number;
- two inputs that would write the same file (`clip.npy` and `clip.gif`, or one input twice) are refused
  before anything is written.

Every name of a call is chosen, and every conflict found, before the first file is written.
"""

from __future__ import annotations

import os

from keras_recurrent.tasks import UserError
from keras_recurrent.tasks.files import OutputFile


class OutputPlan:
    """Chooses the paths of a predict call's output files; one plan spans every batch of the call."""

    def __init__(self, output_dir: str | None = None, overwrite: bool = False):
        if output_dir is not None and os.path.exists(output_dir) and not os.path.isdir(output_dir):
            raise UserError(f"--output-dir {output_dir}: exists and is not a directory")
        self.output_dir = output_dir
        self.overwrite = overwrite
        self._planned: dict[str, str] = {}  # plain name -> the input it belongs to, across the whole call
        self._chosen: set[str] = set()  # the numbered names handed out so far

    def write(self, rows: list[dict]) -> list[dict]:
        """Rows with every `OutputFile` written and replaced by its path (rows without one are returned as they are)."""
        jobs = []  # (row, key, output file, path)
        for row in rows:
            wanted = [(key, value) for key, value in row.items() if isinstance(value, OutputFile)]
            if wanted:
                jobs.extend((row, key, out, path) for (key, out), path in zip(wanted, self._paths([out for _, out in wanted])))
        for row, key, out, path in jobs:  # every conflict was found above: nothing is written before that
            if self.output_dir is not None:
                os.makedirs(self.output_dir, exist_ok=True)
            out.write(path)
            row[key] = path
        return rows

    def _paths(self, outs: list[OutputFile]) -> list[str]:
        plain = [self._plain(out) for out in outs]
        for out, path in zip(outs, plain):
            earlier = self._planned.get(path)
            if earlier is not None:
                raise UserError(f"{earlier} and {out.source} would both be written to {path}; predict them in separate "
                                f"calls or rename one")
        for out, path in zip(outs, plain):
            self._planned[path] = out.source
        if self.overwrite:
            return plain
        if self.output_dir is not None:
            for path in plain:
                if os.path.lexists(path):
                    raise UserError(f"{path}: exists; pass --overwrite to replace it, or choose another --output-dir")
            return plain
        number = 1
        while True:  # beside the input: the first number free for every file of this input
            paths = plain if number == 1 else [_numbered(p, number) for p in plain]
            if not any(os.path.lexists(p) or p in self._chosen for p in paths):
                self._chosen.update(paths)
                return paths
            number += 1

    def _plain(self, out: OutputFile) -> str:
        stem = os.path.splitext(os.path.basename(out.source))[0]
        directory = self.output_dir if self.output_dir is not None else os.path.dirname(out.source)
        return os.path.normpath(os.path.join(directory, stem + out.suffix))


def _numbered(path: str, number: int) -> str:
    """clip.predicted.npy, 2 -> clip.predicted-2.npy"""
    base, extension = os.path.splitext(path)
    return f"{base}-{number}{extension}"


__all__ = ["OutputPlan"]

"""Predict a whole file with a finished run, streaming: `recurrent predict RUN --input FILE [--output OUT]`.

The input is read a batch at a time and each batch's predictions are written before the next is read,
so a file of a million lines runs in constant memory. Inputs:

- a `.csv` / `.tsv` file with a header: the inputs are one column (`--column`, default `text` when there
  is one, else the first column);
- any other file: one input a line; a blank line between inputs is refused (file and line named), so
  output rows always match input lines; blank lines at the end are passed over.

Outputs: `.csv` (a header from the task's prediction fields) or `.jsonl` (one JSON object a line),
written to a temporary file and renamed when every input is done: an interrupted or failed run leaves
any earlier output as it was. Without `--output` the predictions go to standard output as they come.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from itertools import islice

from keras_recurrent.pipelines import rundir
from keras_recurrent.tasks import UserError, files
from keras_recurrent.tasks.base import progress as show

OUTPUT_FORMATS = (".csv", ".jsonl")


def read_inputs(path: str, column: str | None = None, encoding: str = "utf-8"):
    """Yield the inputs of `path` one at a time (see the module docstring for the formats)."""
    if not os.path.isfile(path):
        raise UserError(f"--input {path}: no such file")
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".csv", ".tsv"):
        if column:
            raise UserError(f"--column {column}: {path} is not a .csv or .tsv file with columns")
        return _lines(path, encoding)
    handle = open(path, encoding=encoding, newline="")
    reader = csv.reader(handle, delimiter="\t" if extension == ".tsv" else ",")
    header = next(reader, None)
    if not header:
        handle.close()
        raise UserError(f"--input {path}: empty file (a header row is expected)")
    wanted = column or ("text" if "text" in header else header[0])
    if wanted not in header:
        handle.close()
        raise UserError(f"--column {wanted}: not a column of {path}; it has {', '.join(header)}")
    index = header.index(wanted)

    def rows():
        with handle:
            for number, row in enumerate(reader, start=2):
                if not row:
                    continue
                if index >= len(row):
                    raise UserError(f"{path}, line {number}: no value in column {wanted!r}")
                yield row[index]

    return rows()


def _lines(path: str, encoding: str):
    for _, text in files.instance_lines(path, encoding):
        yield text


def predict_file(run: str, input_path: str, output_path: str | None = None, *, column: str | None = None,
                 batch_size: int = 256, encoding: str = "utf-8", progress: bool = True, output_dir: str | None = None,
                 overwrite: bool = False) -> int:
    """Predict every input of `input_path` with the finished run `run`; return how many were predicted.

    Files a task writes for an input go where `pipelines.outputs` says (`output_dir`, `overwrite`); their
    names are checked a batch at a time, so a conflict in a later batch stops the call after the earlier
    batches' files."""
    from keras_recurrent.pipelines.outputs import OutputPlan
    from keras_recurrent.pipelines.verbs import load_run

    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size}: must be at least 1")
    if output_path is not None and os.path.splitext(output_path)[1].lower() not in OUTPUT_FORMATS:
        raise UserError(f"--output {output_path}: expected a .csv or .jsonl file")
    inputs = read_inputs(input_path, column, encoding)  # errors about the input come before loading the model
    plan = OutputPlan(output_dir, overwrite)
    loaded = load_run(run)
    if output_path is None:
        return _write(loaded, plan, inputs, sys.stdout, None, batch_size, False)
    with rundir.atomic_path(output_path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            count = _write(loaded, plan, inputs, out, os.path.splitext(output_path)[1].lower(), batch_size, progress)
        if count == 0:
            raise UserError(f"--input {input_path}: no inputs found")
    return count


def predict_to_file(run: str, inputs: list[str], output_path: str, *, output_dir: str | None = None,
                    overwrite: bool = False) -> int:
    """Predict inputs given on the command line into `output_path` (.csv or .jsonl), written whole or not
    at all; returns how many rows were written (a task may give several rows an input: a forecast's steps)."""
    from keras_recurrent.pipelines.verbs import predict

    kind = os.path.splitext(output_path)[1].lower()
    if kind not in OUTPUT_FORMATS:
        raise UserError(f"--output {output_path}: expected a .csv or .jsonl file")
    rows = predict(run, inputs, output_dir=output_dir, overwrite=overwrite)  # every error comes before the file is touched
    with rundir.atomic_path(output_path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            _write_rows(rows, out, kind)
    return len(rows)


def _write_rows(rows, out, kind, task=None) -> None:
    """Rows as CSV (a header from the first row's fields), JSONL, or, with no kind, the task's own lines."""
    writer = None
    for row in rows:
        if kind == ".csv":
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: _cell(v) for k, v in row.items()})
        elif kind == ".jsonl":
            out.write(json.dumps(row) + "\n")
        else:
            out.write(task.format_prediction(row) + "\n")


def _write(loaded, plan, inputs, out, kind, batch_size, progress) -> int:
    task, config, info, model = loaded
    count = 0

    def rows():
        nonlocal count
        while batch := list(islice(inputs, batch_size)):
            yield from plan.write(task.predict(model, batch, info, config))
            count += len(batch)
            if progress:
                show(f"predicted {count:,} inputs")

    _write_rows(rows(), out, kind, task)
    if progress and count:
        show(f"predicted {count:,} inputs", done=True)
    return count


def _cell(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


__all__ = ["predict_file", "predict_to_file", "read_inputs"]

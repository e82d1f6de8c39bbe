"""Callbacks that make an interrupted and resumed run equal to an uninterrupted one.

`keras.callbacks.BackupAndRestore` restores the weights, the optimizer state and the epoch counter.
Two more things decide what epoch `e` computes, and neither lives in its checkpoint:

- the order of the training examples: `epoch_shuffled` draws epoch `e`'s order from (seed, e), read
  from a variable that `EpochSeeder` sets when the epoch begins, rather than from how many times the
  dataset happened to be iterated in this process;
- the dropout masks: Keras layers draw them from `SeedGenerator` states that are not saved with the
  weights, so `EpochSeeder` resets every such state to a value derived from (seed, e, index).
"""

from __future__ import annotations

import csv
import io
import os

import keras
import numpy as np
import tensorflow as tf

from keras_recurrent.pipelines import rundir


def epoch_shuffled(dataset, seed: int, epoch_variable):
    """Reshuffle `dataset` each epoch with an order that depends only on (seed, epoch).

    The permutation is stateless (`tf.random.experimental.stateless_shuffle` keyed on (seed, epoch),
    the epoch read from a variable when the epoch's iteration starts), so a resumed process replays
    exactly the order the interrupted one would have used. The elements are held in memory as tensors,
    which every task's data is (a seeded `Dataset.shuffle` with a tensor seed would stream, but fails
    when the global seed is 0).
    """
    size = int(dataset.cardinality())
    if size < 0:
        raise ValueError("epoch_shuffled needs a dataset of known size")
    elements = dataset.batch(max(size, 1)).get_single_element()
    seed_tensor = tf.constant(seed, tf.int64)

    def one_epoch(_):
        key = tf.stack([seed_tensor, epoch_variable.read_value()])
        order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).map(
            lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), elements)
        )

    shuffled = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    return shuffled.apply(tf.data.experimental.assert_cardinality(size))


class EpochSeeder(keras.callbacks.Callback):
    """At the start of epoch `e`, point the data order and every dropout RNG at (seed, e)."""

    def __init__(self, seed: int, epoch_variable):
        super().__init__()
        self.seed = seed
        self.epoch_variable = epoch_variable
        self.first_epoch: int | None = None  # > 0 when this process resumed an interrupted run

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.epoch_variable.assign(epoch)
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for index, state in enumerate(states):
            mixed = (self.seed * 1_000_003 + epoch * 7_919 + index * 104_729) % (2**31 - 1)
            state.assign(np.array([mixed, 0], dtype=state.dtype))


class HistoryCSV(keras.callbacks.Callback):
    """`history.csv`, one row per finished epoch, rewritten atomically, and right after a resume.

    On resume the rows of epochs that will be trained again are dropped, so the file never holds an
    epoch twice whatever moment the previous process died at.
    """

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.rows: list[dict] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.rows is None:
            self.rows = [r for r in read_history(self.path) if int(r["epoch"]) < epoch]

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        self.rows.append(row)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        rundir.write_text(self.path, out.getvalue())


def read_history(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

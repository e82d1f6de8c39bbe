"""Callbacks that make an interrupted and resumed run equal to an uninterrupted one.

`keras.callbacks.BackupAndRestore` restores the weights, the optimizer state and the epoch counter.
Two more things decide what epoch `e` computes, and neither lives in its checkpoint:

- the order of the training examples: `epoch_shuffled` draws epoch `e`'s order from (seed, e), read
  from a variable that `EpochSeeder` sets when the epoch begins, rather than from how many times the
  dataset happened to be iterated in this process;
- the dropout masks: Keras layers draw them from `SeedGenerator` states that are not saved with the
  weights, so `EpochSeeder` resets every such state to a value derived from (seed, e, index).

Early stopping has state of its own (the best validation loss so far, how long ago it was, that
epoch's weights). `BestEpoch` derives the first two from `history.csv`, which the resumed run already
trusts, and keeps the best weights in a file named by their epoch, so a resumed run stops at the same
epoch and ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import os

import keras
import numpy as np
import tensorflow as tf

from keras_recurrent.pipelines import rundir


def epoch_shuffled(dataset, seed: int, epoch_variable, by_index=None):
    """Reshuffle `dataset` each epoch with an order that depends only on (seed, epoch).

    The permutation is stateless (`tf.random.experimental.stateless_shuffle` keyed on (seed, epoch),
    the epoch read from a variable when the epoch's iteration starts), so a resumed process replays
    exactly the order the interrupted one would have used. The elements are held in memory as tensors
    (a seeded `Dataset.shuffle` with a tensor seed would stream, but fails when the global seed is 0),
    unless `by_index` gives them as `(size, fn)` (see `TaskData.train_elements`): then only the
    permutation is held, and `fn` computes each element when it comes. Both give the same order.
    """
    if by_index is not None:
        size, element = by_index
    else:
        size = int(dataset.cardinality())
        if size < 0:
            raise ValueError("epoch_shuffled needs a dataset of known size")
        elements = dataset.batch(max(size, 1)).get_single_element()

        def element(i):
            return tf.nest.map_structure(lambda t: tf.gather(t, i), elements)

    seed_tensor = tf.constant(seed, tf.int64)

    def one_epoch(_):
        key = tf.stack([seed_tensor, epoch_variable.read_value()])
        order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).map(element)

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


class BestEpoch(keras.callbacks.Callback):
    """Keep the weights of the epoch with the lowest `monitor`, restore them when training ends, and
    stop after `patience` epochs without improvement (0: never stop early). Resumable.

    Args:
        history_path: the run's `history.csv` (written by `HistoryCSV`), read once on resume to
            recover the best value and the epochs since it.
        directory: where the best weights live, as `best-epoch-<E>.weights.h5`.
        monitor: a column of the history; lower is better.
        patience: epochs without improvement before stopping; 0 trains every epoch.
        min_delta: the least decrease that counts as an improvement.
        restore: load the best epoch's weights when training ends (False: keep the last epoch's).
        start_epoch: epochs before it (0-based) neither count as best nor use up patience: a task
            whose model changes on a schedule (MemN2N's linear start) compares only epochs after it.

    Files of older best epochs are removed only once a later epoch's backup exists (at the start of
    the next epoch), so whatever epoch a killed process is resumed from, its best file is there.
    """

    def __init__(self, history_path: str, directory: str, monitor: str = "val_loss", patience: int = 0,
                 min_delta: float = 0.0, restore: bool = True, start_epoch: int = 0):
        super().__init__()
        self.start_epoch = start_epoch
        self.history_path = history_path
        self.directory = directory
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore = restore
        self.best = np.inf
        self.best_epoch: int | None = None  # 0-based, as Keras counts epochs
        self.wait = 0
        self.started = False

    def _path(self, epoch: int) -> str:
        return os.path.join(self.directory, f"best-epoch-{epoch}.weights.h5")

    def _recover(self, before_epoch: float) -> int:
        """The state of the epochs an earlier process finished, from the history it wrote; returns how
        many epochs that history holds."""
        self.started = True
        rows = read_history(self.history_path)
        for row in rows:
            if row["epoch"] < before_epoch and self.monitor in row:
                self._observe(row["epoch"], row[self.monitor])
        return len(rows)

    def epochs_left_after_stop(self, epochs: int) -> int:
        """The `epochs` to pass to `fit`: on resuming a run whose history already ran out of patience
        (interrupted right after its stopping epoch), the number of finished epochs, so that no epoch
        runs again; otherwise `epochs` unchanged."""
        if not self.patience:
            return epochs
        replay = BestEpoch(self.history_path, self.directory, self.monitor, self.patience, self.min_delta,
                           start_epoch=self.start_epoch)
        finished = replay._recover(np.inf)
        return min(epochs, finished) if replay.wait >= self.patience else epochs

    def on_epoch_begin(self, epoch, logs=None):
        if not self.started:  # the first epoch this process runs
            self._recover(epoch)
        elif self.best_epoch is not None:
            for name in os.listdir(self.directory) if os.path.isdir(self.directory) else ():
                if name.startswith("best-epoch-") and name != os.path.basename(self._path(self.best_epoch)):
                    os.remove(os.path.join(self.directory, name))

    def _observe(self, epoch: int, value: float) -> bool:
        if epoch < self.start_epoch:
            return False
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return True
        self.wait += 1
        return False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if self._observe(epoch, float(value)):
            os.makedirs(self.directory, exist_ok=True)
            with rundir.atomic_path(self._path(epoch), ".weights.h5") as tmp:
                self.model.save_weights(tmp)
        elif self.patience and self.wait >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if not self.started:  # resumed after the last epoch's backup: no epoch ran in this process
            self._recover(np.inf)
        if self.restore and self.best_epoch is not None and os.path.isfile(self._path(self.best_epoch)):
            self.model.load_weights(self._path(self.best_epoch))


class MedianPruner(keras.callbacks.Callback):
    """Optuna's median rule for a sweep's trial: after epoch k, stop training if the trial's best `monitor`
    so far is worse than the median of the finished trials' `monitor` at epoch k.

    Args:
        finished_at: `epoch -> [values]`, the finished (not pruned) trials' values at that epoch.
        monitor: a column of the logs; lower is better.
        startup_trials: prune nothing until this many finished trials reached the epoch.
        warmup_epochs: epochs neither compared nor counted (a task whose schedule changes the model).

    `pruned_at` is the 0-based epoch after which it stopped the trial, None if it did not.
    """

    def __init__(self, finished_at, monitor: str = "val_loss", startup_trials: int = 2, warmup_epochs: int = 0):
        super().__init__()
        self.finished_at, self.monitor = finished_at, monitor
        self.startup_trials, self.warmup_epochs = startup_trials, warmup_epochs
        self.best = np.inf
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if epoch < self.warmup_epochs or value is None:
            return
        if np.isfinite(value):
            self.best = min(self.best, float(value))
        others = self.finished_at(epoch)
        if len(others) >= self.startup_trials and not self.best <= float(np.median(others)):
            self.pruned_at = epoch
            self.model.stop_training = True


def read_history(path: str) -> list[dict]:
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

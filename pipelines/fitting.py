"""The training procedure, one for every caller: a run (`recurrent train`) and a sweep's trial (`recurrent tune`).

`prepare` seeds, loads the data and builds the compiled model; `fit` trains it with everything that
decides what a run computes:

- the per-epoch shuffle drawn from (seed, epoch) and the dropout streams reset at each epoch
  (`callbacks.EpochSeeder`), so a resumed run equals an uninterrupted one;
- the task's own schedule (bAbI's linear start and its halving rate) and the epochs early stopping
  must not compare;
- early stopping with `train.patience` and the best epoch's weights restored (`callbacks.BestEpoch`);
- self-supervised pretraining before the first epoch, when the task asks for it;
- the distribution scope.

A caller adds only what it needs on top (`callbacks`): a sweep trial adds the one that reports to the
tuner and may prune. The objective a trial reports is what the run would have kept: the validation
loss of the best epoch (or of the last one when `train.keep_best` is off).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from keras_recurrent.pipelines import compat, distribution, rundir
from keras_recurrent.pipelines.environment import seed_everything
from keras_recurrent.tasks import UserError

BEST_DIR = "best"  # the best epoch's weights while a run trains (see callbacks.BestEpoch)
HISTORY = "history.csv"


def make_optimizer(train_config):
    import keras

    from keras_recurrent.pipelines.optimizers import SPECTRAL

    clip = {"clipnorm": train_config.clipnorm} if train_config.clipnorm > 0 else {}
    lr = train_config.learning_rate
    if train_config.clip == "spectral" and train_config.clipnorm > 0:
        if train_config.optimizer not in SPECTRAL:
            raise UserError(f"train.clip=spectral: supported with train.optimizer={' or '.join(SPECTRAL)}, "
                            f"not {train_config.optimizer}")
        return SPECTRAL[train_config.optimizer](lr, spectral_clipnorm=train_config.clipnorm)
    if train_config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=train_config.weight_decay, **clip)
    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}[
        train_config.optimizer
    ](lr, **clip)


def build_compiled(task, config, info, xla: bool | None = None):
    """The run's model, built from the task's registry and compiled with the run's optimizer (with XLA
    where `xla`, by default `train.xla`)."""
    model = task.models.build(config.model_name, config.model, info, task.name)
    what = task.compile(info)
    # "auto" is Keras's own choice: XLA under JAX and on a GPU, never on a TensorFlow CPU.
    model.compile(optimizer=make_optimizer(config.train), loss=what.loss, metrics=what.metrics,
                  weighted_metrics=what.weighted_metrics or None,
                  jit_compile=(config.train.xla if xla is None else xla) or "auto")
    return model


def load_for_run(task, spec, data_config, seed: int, run_info: dict, where: str = "this run"):
    """The data a trained run reads again (its test split, or other data): `task.load` with the run's
    info, which then also carries what the model's builder recorded there at training time (its
    quantile levels) when the freshly read info lacks it, so the model's outputs are read as trained."""
    data = task.load(spec, data_config, seed, run_info=run_info)
    problem = task.compatible_info(run_info, data.info)  # before the merge below fills in what it compares
    if problem:
        raise UserError(f"{where}: cannot evaluate on this data: {problem}")
    for key, value in run_info.items():
        data.info.setdefault(key, value)
    return data


def prepare(task, config, dist=None, data=None):
    """Seed, load data (unless `data` is given: a sweep's trials share it), build and compile the model:
    everything that can fail before a run directory exists. Returns (data, model)."""
    dist = dist or distribution.make(None)
    # Under a tf.distribute strategy an XLA step cannot reach the variables mirrored on other devices.
    xla = config.train.xla and dist.strategy is None
    seed_everything(config.train.seed, xla)
    if data is None:
        data = task.load(config.data_spec, config.data, config.train.seed)
        # Seeded again, so the weights start the same whether the data was loaded here or reused.
        seed_everything(config.train.seed, xla)
    with dist.scope():  # variables created under a strategy are mirrored across its replicas
        return data, build_compiled(task, config, data.info, xla)



@dataclass
class Fit:
    """What `fit` did: its seconds, the epoch this process started at (> 0 when it resumed), the best
    epoch (0-based; None without `BestEpoch` or before any finite validation loss) and the history."""

    seconds: float
    first_epoch: int
    best_epoch: int | None
    restored_best: bool
    history: list = field(default_factory=list)

    @property
    def kept_epoch(self) -> int | None:
        """The epoch whose weights the model ends with (0-based)."""
        if self.restored_best and self.best_epoch is not None:
            return self.best_epoch
        return int(self.history[-1]["epoch"]) if self.history else None

    @property
    def objective(self) -> float:
        """The validation loss of the kept epoch; +inf when it is not finite or there is none."""
        kept = self.kept_epoch
        value = next((row.get("val_loss") for row in self.history if row["epoch"] == kept), None)
        return value if value is not None and math.isfinite(value) else math.inf


def fit(the_task, resolved, data_set, net, path: str, *, backup_dir: str | None = None, quiet: bool = True,
        callbacks=(), dist=None) -> Fit:
    """Train `net` on `data_set` by the run's procedure (see the module docstring), writing `history.csv`,
    TensorBoard logs, the backup (default `path/backup`) and the best weights under `path`.

    Args:
        the_task, resolved, data_set, net: the task, the run's resolved config, `prepare`'s data and model.
        path: the directory of this fit's files; a fit whose backup is there resumes from it.
        backup_dir: where the per-epoch backup lives (a multi-worker run keeps one per worker).
        quiet: no progress bar or messages.
        callbacks: the caller's own Keras callbacks, run after the procedure's.
        dist: the `distribution.Distribution` to train under (default: one device).

    Returns:
        A `Fit`; the model ends with the kept epoch's weights.
    """
    import keras
    import tensorflow as tf

    from keras_recurrent.pipelines.callbacks import BestEpoch, EpochSeeder, HistoryCSV, epoch_shuffled, read_history

    dist = dist or distribution.make(None)
    backup_dir = backup_dir or os.path.join(path, "backup")
    train_config = resolved.train
    epoch_variable = tf.Variable(0, dtype=tf.int64, trainable=False)
    shuffled = epoch_shuffled(data_set.train, train_config.seed, epoch_variable, by_index=data_set.train_elements)
    train_ds = shuffled.batch(train_config.batch_size)
    val_ds = data_set.validation.batch(train_config.batch_size)
    schedule = the_task.schedule(resolved)
    history_path = os.path.join(path, HISTORY)
    seeder = EpochSeeder(train_config.seed, epoch_variable)
    pipeline_callbacks = [
        seeder,
        keras.callbacks.BackupAndRestore(backup_dir),
        HistoryCSV(history_path),
        keras.callbacks.TensorBoard(os.path.join(path, "tensorboard"), profile_batch=0),
    ]
    best = None
    if train_config.patience or train_config.keep_best:
        best = BestEpoch(history_path, os.path.join(path, BEST_DIR), patience=train_config.patience,
                         restore=train_config.keep_best, start_epoch=schedule.warmup_epochs)
        # Before BackupAndRestore: a best-weights file is on disk before the backup that follows it.
        pipeline_callbacks.insert(1, best)
    epochs = best.epochs_left_after_stop(train_config.epochs) if best is not None else train_config.epochs
    started = time.perf_counter()
    if schedule.pretrain is not None and not os.path.isdir(backup_dir):  # a backup: pretraining is behind this run
        with dist.scope():
            record = schedule.pretrain(net, data_set, resolved)
        if record is not None:
            rundir.write_json(os.path.join(path, "pretraining.json"), record)
            if not quiet:
                print(f"pretrained: {record.get('objective', 'self-supervised')}, loss {record['loss'][-1]}", flush=True)
    compat.build_before_tracing(net, train_ds.element_spec)
    try:
        net.fit(
            train_ds.prefetch(tf.data.AUTOTUNE),
            validation_data=val_ds.prefetch(tf.data.AUTOTUNE),
            epochs=epochs,
            callbacks=pipeline_callbacks + list(schedule.callbacks) + list(callbacks or ()),
            shuffle=False,  # epoch_shuffled already orders each epoch by (seed, epoch)
            # Keras's live bar (verbose 1) is ANSI colour and carriage returns: a terminal's; a log gets a line an epoch.
            verbose=0 if quiet else (1 if sys.stdout.isatty() else 2),
        )
    except tf.errors.OpError as e:
        if dist.num_workers == 1:
            raise
        # A worker died (or lost the network): the collective ops abort on every other worker.
        reason = next((line for line in str(e).splitlines() if "unhealthy" in line or "aborted" in line), str(e).splitlines()[0])
        raise UserError(f"multi-worker training stopped ({reason.strip()[:200]}); start every worker again with the "
                        f"same command: each resumes from the last finished epoch") from None
    seconds = time.perf_counter() - started
    shutil.rmtree(os.path.join(path, BEST_DIR), ignore_errors=True)  # restored into the model by now
    return Fit(seconds, seeder.first_epoch or 0, best.best_epoch if best is not None else None,
               best is not None and best.restore, read_history(history_path))




"""Loading a tensorflow-datasets split for any task: offline, a failed download or preparation is one
UserError line naming what to do, and it comes after two retries rather than tfds's ten (three and a
half silent minutes of exponential backoff)."""

from __future__ import annotations

from keras_recurrent.tasks.base import UserError


def fail_fast_downloads(retries: int = 2) -> None:
    """Two retries still ride out a dropped packet."""
    try:
        from tensorflow_datasets.core.download import downloader
    except ImportError:  # pragma: no cover - a tfds without this module: keep its own behaviour
        return
    if getattr(downloader, "MAX_RETRIES", 0) > retries:
        downloader.MAX_RETRIES = retries


def load_split(name: str, split: str, data_dir: str | None):
    """`tfds.load(name, split=split)` as a tf.data.Dataset, or a one-line UserError."""
    import tensorflow_datasets as tfds

    fail_fast_downloads()
    try:
        return tfds.load(name, split=split, shuffle_files=False, data_dir=data_dir or None)
    except Exception as e:  # a download or preparation failure, from whichever library tfds used
        reason = " ".join(str(e).split())[:160]
        where = data_dir or "~/tensorflow_datasets"
        raise UserError(
            f"--data tfds:{name}: could not download or prepare the data set ({type(e).__name__}: {reason}); "
            f"offline, prepare it on a connected machine (python -m tensorflow_datasets.scripts.download_and_prepare "
            f"--datasets={name}) and copy it into {where}, or set --set data.tfds_dir=DIR to a prepared copy"
        ) from None


__all__ = ["fail_fast_downloads", "load_split"]

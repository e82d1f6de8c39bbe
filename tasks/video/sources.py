"""Reading clips for the video task: a directory of arrays or GIFs, one clip a file, and Moving MNIST
through tensorflow-datasets. Every reader returns clips as float32 arrays (frames, rows, columns,
channels) in [0, 1], or raises UserError naming the file and the problem.

- `.npy`: one array (frames, rows, columns) or (frames, rows, columns, channels);
- `.npz`: every array in it is a clip of that form;
- `.gif`: every frame of the animation (converted to grey or RGB, as the first clip decides).

Integer arrays hold 0..255 (divided by 255); float arrays must already be in [0, 1].
"""

from __future__ import annotations

import os

import numpy as np

from keras_recurrent.tasks.base import UserError

EXTENSIONS = (".npy", ".npz", ".gif")


def as_frames(array, where: str) -> np.ndarray:
    """One clip as float32 (frames, rows, columns, channels) in [0, 1]; UserError if it is not one."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise UserError(f"{where}: expected frames x rows x columns [x channels], got an array of shape {array.shape}")
    if array.shape[-1] not in (1, 3):
        raise UserError(f"{where}: {array.shape[-1]} channels; expected 1 (grey) or 3 (RGB)")
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0 or high > 255:
            raise UserError(f"{where}: integer pixel values must lie in 0..255, found {low}..{high}")
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise UserError(f"{where}: pixel values of type {array.dtype}; expected integers 0..255 or floats in [0, 1]")
    if not np.all(np.isfinite(array)):
        raise UserError(f"{where}: NaN or infinite pixel values")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise UserError(f"{where}: float pixel values must lie in [0, 1], found {array.min():.3g}..{array.max():.3g}")
    return array.astype(np.float32)


def read_gif(path: str, channels: int | None = None) -> np.ndarray:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            mode = {1: "L", 3: "RGB"}.get(channels) or ("L" if image.mode in ("L", "1") else "RGB")
            frames = [np.asarray(frame.convert(mode)) for frame in ImageSequence.Iterator(image)]
    except Exception as e:  # PIL raises several kinds for a damaged file (UnidentifiedImageError, OSError, EOFError...)
        raise UserError(f"{path}: not a readable GIF ({type(e).__name__})") from None
    if len({frame.shape for frame in frames}) > 1:  # a damaged GIF can give frames of several sizes (the fuzz tests)
        raise UserError(f"{path}: frames of different sizes ({', '.join(sorted({'x'.join(map(str, f.shape[:2])) for f in frames}))})")
    return as_frames(np.stack(frames), path)


def read_clip(path: str, channels: int | None = None) -> list[np.ndarray]:
    """The clips in one file (an .npz may hold several)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".gif":
        return [read_gif(path, channels)]
    try:
        if suffix == ".npy":
            return [as_frames(np.load(path, allow_pickle=False), path)]
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                if not arrays.files:
                    raise UserError(f"{path}: holds no arrays")
                return [as_frames(arrays[name], f"{path}[{name}]") for name in arrays.files]
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001  a damaged header reaches NumPy's literal parser: SyntaxError, TokenError...
        raise UserError(f"{path}: not a readable NumPy file ({' '.join(str(e).split())[:120] or type(e).__name__})") from None
    raise UserError(f"{path}: expected one of {', '.join(EXTENSIONS)}")


def read_directory(path: str) -> list[np.ndarray]:
    """Every clip in a directory, in file-name order; all of one frame size and channel count."""
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(EXTENSIONS))
    if not names:
        raise UserError(f"--data {path}: no {', '.join(EXTENSIONS)} files in the directory")
    clips, first = [], None
    for name in names:
        for c in read_clip(os.path.join(path, name), first[2] if first else None):
            if first is None:
                first = c.shape[1:]
            elif c.shape[1:] != first:
                raise UserError(f"--data {path}: {name} has frames of {c.shape[1]}x{c.shape[2]}x{c.shape[3]}, "
                                f"the first clip {first[0]}x{first[1]}x{first[2]}; every clip needs the same size")
            clips.append(c)
    return clips


def read_tfds(name: str, tfds_dir: str | None) -> list[np.ndarray]:
    """`tfds:moving_mnist`: 10,000 clips of 20 frames, 64 x 64, grey (tfds has only a `test` split; the
    task splits it)."""
    if name != "moving_mnist":
        raise UserError(f"--data tfds:{name}: not a video source; choose tfds:moving_mnist")
    from keras_recurrent.tasks.tfds_loading import load_split

    ds = load_split(name, "test", tfds_dir)
    return [as_frames(example["image_sequence"], f"tfds:{name}") for example in ds.as_numpy_iterator()]


def windows(clips: list[np.ndarray], length: int) -> np.ndarray:
    """Non-overlapping windows of `length` frames from every clip (each at least that long):
    (count, length, rows, columns, channels)."""
    cut = [c[i:i + length] for c in clips for i in range(0, len(c) - length + 1, length)]
    return np.stack(cut).astype(np.float32)


__all__ = ["as_frames", "read_clip", "read_directory", "read_gif", "read_tfds", "windows"]

"""Moving digits: the video task's embedded offline data, with the dynamics of Moving MNIST (Srivastava,
Mansimov & Salakhutdinov 2015) and the handwritten digits scikit-learn ships (no download).

Each clip shows `digits` handwritten digits (8 x 8 scans upscaled to `digit_size`, default 28 as in
Moving MNIST) moving in straight lines inside a square canvas and bouncing off its edges; where digits
overlap the brighter pixel wins. Every clip is a function of (seed, split, index) alone, so a split is
never held in memory: tf.data asks for clip i when it needs it, in any order, and gets the same clip.

The digit images are partitioned between the splits, so a test clip shows handwriting no training clip
showed.
"""

from __future__ import annotations

import functools

import numpy as np

SPLITS = {"train": 0, "validation": 1, "test": 2}


@functools.cache
def digit_images(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits upscaled to size x size in [0, 1], split 80 / 10 / 10
    (a fixed permutation): (train, validation, test) arrays of images."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32) / 16.0
    scaled = np.clip(zoom(images, (1, size / 8.0, size / 8.0), order=1), 0.0, 1.0)
    order = np.random.default_rng(8).permutation(len(scaled))
    a, b = int(0.8 * len(order)), int(0.9 * len(order))
    return scaled[order[:a]], scaled[order[a:b]], scaled[order[b:]]


def clip(seed: int, split: str, index: int, frames: int, size: int = 64, digits: int = 2, speed: float = 3.0,
         digit_size: int = 28) -> np.ndarray:
    """Clip `index` of `split`: (frames, size, size, 1) float32 in [0, 1].

    Each digit starts at a uniformly random position, moves `speed` pixels a frame in a uniformly random
    direction, and bounces (its velocity reflected) when it would leave the canvas.
    """
    rng = np.random.default_rng([seed, SPLITS[split], index])
    pool = digit_images(digit_size)[SPLITS[split]]
    room = size - digit_size
    video = np.zeros((frames, size, size), np.float32)
    for _ in range(digits):
        image = pool[rng.integers(len(pool))]
        position = rng.uniform(0, room, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        velocity = speed * np.array([np.sin(angle), np.cos(angle)])
        for t in range(frames):
            r, c = np.round(position).astype(int)
            window = video[t, r:r + digit_size, c:c + digit_size]
            np.maximum(window, image, out=window)
            position = position + velocity
            for axis in range(2):  # reflect off the walls
                if position[axis] < 0:
                    position[axis], velocity[axis] = -position[axis], -velocity[axis]
                elif position[axis] > room:
                    position[axis], velocity[axis] = 2 * room - position[axis], -velocity[axis]
            position = np.clip(position, 0, room)  # a speed above the room left would bounce twice
    return video[..., None]


__all__ = ["clip", "digit_images"]

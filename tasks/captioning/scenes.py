"""The captioning task's embedded offline data: generated scenes of coloured shapes, each with several
reference captions in varied wording, and a held-out split of colour-shape pairs never seen in training.

A scene holds one to `max_shapes` shapes, each of a kind (circle, square, triangle, diamond), a colour
and a size (small or large), placed left to right in equal columns of the canvas at a random height, so
"to the left of" is always true of the order they are named in. Captions name them left to right:

    1 shape:  "a small red circle", "there is a small red circle", "one small red circle"
    2 shapes: "a small red circle to the left of a large blue square",
              "a large blue square to the right of a small red circle",
              "a small red circle and a large blue square", ...
    3 shapes: "a small red circle , a large blue square and a small green triangle from left to right", ...

Compositional generalisation: the pairs in `HELD_OUT` (one per colour of four, one per kind) never appear in
the training and validation scenes; every scene of the `test` split holds at least one, so a model that
scores well there has learned colour and kind apart, not memorised the pairs. `test_seen` is drawn like the
training scenes, as the in-distribution reference.

Every scene is a function of (seed, split, index): the same run always sees the same data.
"""

from __future__ import annotations

import zlib

import numpy as np

KINDS = ("circle", "square", "triangle", "diamond")
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 230), "yellow": (235, 205, 40),
           "purple": (150, 60, 200)}
SIZES = ("small", "large")
HELD_OUT = frozenset({("red", "triangle"), ("green", "diamond"), ("blue", "circle"), ("yellow", "square")})
SPLITS = ("train", "validation", "test", "test_seen")


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def _draw_objects(rng, max_shapes: int, split: str) -> list[tuple[str, str, str]]:
    """(size, colour, kind) left to right; the held-out pairs only (and always) in the `test` split."""
    count = int(rng.integers(1, max_shapes + 1))
    while True:
        objects = [(SIZES[rng.integers(2)], list(COLOURS)[rng.integers(len(COLOURS))], KINDS[rng.integers(len(KINDS))])
                   for _ in range(count)]
        unseen = [(colour, kind) in HELD_OUT for _, colour, kind in objects]
        if (split == "test") == any(unseen):
            return objects


def render(objects, rng, image_size: int) -> np.ndarray:
    """(image_size, image_size, 3) uint8: each shape in its own column, on a dark, slightly noisy ground."""
    from PIL import Image, ImageDraw

    scale = 4  # drawn large and reduced: smooth edges at any size
    side = image_size * scale
    image = Image.new("RGB", (side, side), (20, 20, 24))
    draw = ImageDraw.Draw(image)
    column = side / len(objects)
    for i, (size, colour, kind) in enumerate(objects):
        radius = side * (0.10 if size == "small" else 0.18) * min(1.0, 2.0 / len(objects))
        cx = column * (i + 0.5) + rng.uniform(-0.15, 0.15) * (column - 2 * radius)
        cy = rng.uniform(radius + 2, side - radius - 2)
        fill = COLOURS[colour]
        if kind == "circle":
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
        elif kind == "square":
            r = radius * 0.85
            draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
        elif kind == "triangle":
            draw.polygon([(cx, cy - radius), (cx + radius, cy + radius * 0.8), (cx - radius, cy + radius * 0.8)], fill=fill)
        else:
            draw.polygon([(cx, cy - radius), (cx + radius * 0.8, cy), (cx, cy + radius), (cx - radius * 0.8, cy)], fill=fill)
    pixels = np.asarray(image.resize((image_size, image_size), Image.BILINEAR), np.int16)
    pixels = pixels + rng.integers(-6, 7, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _phrase(obj) -> str:
    return "a " + " ".join(obj)


def captions(objects) -> list[str]:
    """Reference captions of a scene, in varied wording, every one naming every shape's size, colour and kind."""
    p = [_phrase(o) for o in objects]
    if len(p) == 1:
        size, colour, kind = objects[0]
        return [p[0], f"there is {p[0]}", f"one {size} {colour} {kind}"]
    if len(p) == 2:
        return [f"{p[0]} to the left of {p[1]}", f"{p[1]} to the right of {p[0]}", f"{p[0]} and {p[1]}",
                f"there is {p[0]} next to {p[1]}"]
    listed = " , ".join(p[:-1]) + f" and {p[-1]}"
    return [f"{listed} from left to right", f"from left to right {listed}", f"{listed} in a row"]


def scene(seed: int, split: str, index: int, image_size: int = 64, max_shapes: int = 2):
    """(image uint8, reference captions, objects) of scene `index` of `split`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    rng = _rng(seed, split, index)
    objects = _draw_objects(rng, max_shapes, split)
    return render(objects, rng, image_size), captions(objects), objects


__all__ = ["COLOURS", "HELD_OUT", "KINDS", "SIZES", "SPLITS", "captions", "render", "scene"]

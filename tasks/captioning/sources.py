"""Where the captioning task's images and captions come from, besides the generated scenes: a folder in the
Flickr8k layout, `tfds:coco_captions`, and single image files for `predict`.

Every source gives a `Split`: images (n, size, size, 3) uint8, resized to a square (the aspect ratio is not
kept: the encoder's grid covers the whole photograph), and for each image its reference captions.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field

import numpy as np

from keras_recurrent.tasks.base import UserError, warn

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclass
class Split:
    images: np.ndarray
    references: list  # for each image, its captions (raw strings)
    names: list = field(default_factory=list)


def tokenize(text: str) -> list[str]:
    """Lower-cased words, digits and commas kept as words ("a dog , running" -> a, dog, ",", running)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?|,", text.lower())


def to_rgb_array(image, image_size: int) -> np.ndarray:
    """A PIL image in any mode (grey, 16-bit grey, palette, CMYK, RGBA: converted, transparency over white)
    -> (size, size, 3) uint8."""
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit (and 32-bit) grey: PIL's convert clips every value above 255 to white; scale to 8 bits instead.
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("non-finite pixel values")
        top = 1.0 if image.mode == "F" and values.max() <= 1.0 else (65535.0 if values.max() <= 65535 else values.max())
        image = Image.fromarray(np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(ground, rgba)
    image = image.convert("RGB")
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.BILINEAR)
    return np.asarray(image, np.uint8)


def read_image(path: str, image_size: int) -> np.ndarray:
    """One image file as (size, size, 3) uint8, or a one-line UserError naming it."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise UserError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb_array(image, image_size)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise UserError(f"{path}: not a readable image ({type(e).__name__})") from None


# -- the Flickr8k layout --------------------------------------------------------------------------

def _all_files(directory: str) -> list[str]:
    """Every file under `directory`, in a stable order (walked once; the helpers below filter it)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in sorted(files))
    return found


def _find(paths: list[str], predicate) -> list[str]:
    return [p for p in paths if predicate(os.path.basename(p))]


def read_captions_file(path: str, encoding: str = "utf-8") -> dict[str, list[str]]:
    """image name -> captions, from `image#n<TAB>caption` lines (Flickr8k.token.txt) or a CSV with the columns
    `image,caption` (the layout Kaggle's copy ships). Empty captions are left out and counted."""
    from keras_recurrent.tasks.text import decode

    with open(path, "rb") as handle:
        text = decode(handle.read(), encoding, path)
    captions: dict[str, list[str]] = {}
    empty = 0
    if "\t" in text.split("\n", 1)[0]:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if "\t" not in line:
                raise UserError(f"{path} line {number}: expected IMAGE#N<TAB>CAPTION")
            key, caption = line.split("\t", 1)
            rows.append((key.rsplit("#", 1)[0].strip(), caption))
    else:
        try:
            reader = csv.DictReader(io.StringIO(text))
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "image" not in columns or "caption" not in columns:
                raise UserError(f"{path}: expected IMAGE#N<TAB>CAPTION lines or a CSV with columns image,caption "
                                f"(found columns {', '.join(map(repr, columns)) or 'none'})")
            rows = [((r["image"] or "").strip(), r["caption"] or "") for r in
                    ({(k or "").strip().lower(): v for k, v in row.items()} for row in reader)]
        except csv.Error as e:  # a stray carriage return or NUL byte (the fuzz tests)
            raise UserError(f"{path}: not a readable CSV ({e})") from None
    for name, caption in rows:
        if not tokenize(caption):
            empty += 1
            continue
        captions.setdefault(name, []).append(caption.strip())
    if empty:
        warn(f"{path}: {empty} empty caption(s) left out")
    if not captions:
        raise UserError(f"{path}: no captions found")
    return captions


def _split_files(files: list[str]) -> dict[str, set]:
    """The official split files (Flickr_8k.trainImages.txt, ...dev..., ...test...), where present."""
    splits = {}
    for split, pattern in (("train", "trainimages.txt"), ("validation", "devimages.txt"), ("test", "testimages.txt")):
        paths = _find(files, lambda f, p=pattern: f.lower().endswith(p))
        if paths:
            with open(paths[0], encoding="utf-8") as handle:
                splits[split] = {line.strip() for line in handle if line.strip()}
    return splits


def _captions_path(directory: str, files: list[str]) -> str:
    tokens = _find(files, lambda f: f.lower().endswith(".token.txt") and "lemma" not in f.lower())
    if tokens:
        return tokens[0]
    tables = _find(files, lambda f: f.lower() in ("captions.txt", "captions.csv"))
    if tables:
        return tables[0]
    raise UserError(f"--data {directory}: no captions file (Flickr8k.token.txt with IMAGE#N<TAB>CAPTION lines, "
                    f"or captions.txt / captions.csv with columns image,caption)")


def read_flickr(directory: str, image_size: int, seed: int, encoding: str = "utf-8", wanted=("train", "validation", "test"),
                captions_file: str = "") -> tuple[dict[str, Split], dict]:
    """A folder in the Flickr8k layout -> ({split: Split}, facts for data_info).

    The captions file and the images are searched for anywhere under `directory`. Images the captions name
    but the folder lacks are counted, named (the first few) in a warning, and left out; so are images that
    cannot be read. With the official split files the splits are theirs (images in none are left out);
    without them, 80 / 10 / 10 by image, from the seed.
    """
    if not os.path.isdir(directory):
        raise UserError(f"--data {directory}: not a directory (the Flickr8k layout: images and a captions file)")
    everything = _all_files(directory)
    captions_file = captions_file or _captions_path(directory, everything)
    captions = read_captions_file(captions_file, encoding)
    files = {os.path.basename(p): p for p in _find(everything, lambda f: f.lower().endswith(IMAGE_SUFFIXES))}
    missing = sorted(name for name in captions if name not in files)
    facts = {"captions_file": os.path.relpath(captions_file, directory)}
    if missing:
        facts["images_missing"] = len(missing)
        warn(f"--data {directory}: {len(missing)} of {len(captions)} images named in the captions file are not in the "
             f"folder (first: {', '.join(missing[:3])}); going on with the {len(captions) - len(missing)} found")
    names = sorted(name for name in captions if name in files)
    if not names:
        raise UserError(f"--data {directory}: none of the {len(captions)} images named in the captions file is in the folder")
    official = _split_files(everything)
    if {"train", "test"} <= set(official):
        official.setdefault("validation", set())
        assigned = {name: split for split, members in official.items() for name in members}
        chosen = {split: [n for n in names if assigned.get(n) == split] for split in ("train", "validation", "test")}
        outside = sum(1 for n in names if n not in assigned)
        if outside:
            facts["images_in_no_split"] = outside
        if not chosen["validation"]:  # no dev file: a tenth of the training images
            cut = max(1, len(chosen["train"]) // 10)
            chosen["validation"], chosen["train"] = chosen["train"][:cut], chosen["train"][cut:]
        facts["splits"] = "official split files"
    else:
        order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
        held = max(1, int(round(0.1 * len(order))))
        chosen = {"test": order[:held], "validation": order[held:2 * held], "train": order[2 * held:]}
        facts["splits"] = "80/10/10 by image from the seed"
    splits, unreadable = {}, []
    for split in ("train", "validation", "test"):
        images, references, kept = [], [], []
        for name in (chosen[split] if split in wanted else []):
            try:
                images.append(read_image(files[name], image_size))
            except UserError:
                unreadable.append(name)
                continue
            references.append(captions[name])
            kept.append(name)
        splits[split] = Split(np.stack(images) if images else np.zeros((0, image_size, image_size, 3), np.uint8),
                              references, kept)
    if unreadable:
        facts["images_unreadable"] = len(unreadable)
        warn(f"--data {directory}: {len(unreadable)} image file(s) could not be read and are left out "
             f"(first: {', '.join(unreadable[:3])})")
    for split in wanted:
        if not splits[split].references:
            raise UserError(f"--data {directory}: the {split} split holds no readable image with captions")
    return splits, facts


# -- tensorflow-datasets --------------------------------------------------------------------------

TFDS_SPLITS = {"train": "train", "validation": "val", "test": "test"}


def read_tfds(name: str, image_size: int, tfds_dir: str, max_images: int, wanted=("train", "validation", "test")) -> dict[str, Split]:
    """`tfds:coco_captions` (its Karpathy splits train / val / test), at most `max_images` an split."""
    if name.split("/")[0] != "coco_captions":
        raise UserError(f"--data tfds:{name}: not a captioning source; choose tfds:coco_captions")
    from PIL import Image

    from keras_recurrent.tasks.tfds_loading import load_split

    splits = {}
    for split, tfds_split in TFDS_SPLITS.items():
        images, references, names = [], [], []
        if split in wanted:
            ds = load_split(name, tfds_split, tfds_dir)
            for example in ds.take(max_images).as_numpy_iterator():
                texts = [t.decode("utf-8") for t in np.atleast_1d(example["captions"]["text"])]
                texts = [t for t in texts if tokenize(t)]
                if not texts:
                    continue
                images.append(to_rgb_array(Image.fromarray(np.asarray(example["image"], np.uint8).squeeze()), image_size))
                references.append(texts)
                filename = example.get("image/filename", b"")
                names.append(filename.decode("utf-8") if isinstance(filename, bytes) else str(filename))
            if not images:
                raise UserError(f"--data tfds:{name}: the {tfds_split} split holds no image with captions")
        splits[split] = Split(np.stack(images) if images else np.zeros((0, image_size, image_size, 3), np.uint8),
                              references, names)
    return splits


__all__ = ["Split", "read_captions_file", "read_flickr", "read_image", "read_tfds", "to_rgb_array", "tokenize", "warn"]

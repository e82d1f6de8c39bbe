"""Sentiment data sources, all ending as (texts, labels) splits of Python lists.

`--data` forms:
- nothing: the embedded generated corpus (`corpus.py`);
- `tfds:imdb_reviews`, `tfds:glue/sst2`: through tensorflow-datasets (network the first time);
- a directory in the aclImdb layout (`pos/` and `neg/`, optionally under `train/` and `test/`),
  read with `keras.utils.text_dataset_from_directory`;
- a directory holding `*.pos` and `*.neg` files, one example a line (the rt-polarity layout);
- a `.csv` or `.tsv` file with named text and label columns.

Bytes are decoded with `data.encoding` (UTF-8 unless told); a decoding failure names the file and
suggests the option, since silently replacing characters would change the text.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.base import UserError
from keras_recurrent.tasks.text import decode

LABEL_NAMES = ("negative", "positive")
# Label values recognised as negative / positive whatever the source calls them.
_NEGATIVE_VALUES = {"0", "neg", "negative", "false", "bad", "-1"}
_POSITIVE_VALUES = {"1", "pos", "positive", "true", "good"}

TFDS_SOURCES = {
    # name -> (text feature, train split, test split); test labels of glue/sst2 are hidden (-1), so
    # its validation split serves as the test split and validation is carved from train.
    "imdb_reviews": ("text", "train", "test"),
    "glue/sst2": ("sentence", "train", "validation"),
}


@dataclass
class Splits:
    train: tuple[list[str], list[int]]
    test: tuple[list[str], list[int]] | None  # None: carve the test split from train
    source: str


def normalise_labels(values: list, column: str) -> list[int]:
    """Map a two-class label column to 0 (negative) / 1 (positive)."""
    distinct = sorted({str(v).strip() for v in values})
    if len(distinct) > 2:
        shown = ", ".join(map(repr, distinct[:5])) + (", ..." if len(distinct) > 5 else "")
        raise UserError(f"label column {column!r} has {len(distinct)} classes ({shown}); sentiment expects two")
    lowered = {d.lower() for d in distinct}
    if lowered <= _NEGATIVE_VALUES | _POSITIVE_VALUES and not (lowered <= _NEGATIVE_VALUES) and not (
        lowered <= _POSITIVE_VALUES
    ):
        return [1 if str(v).strip().lower() in _POSITIVE_VALUES else 0 for v in values]
    # Unknown names: sorted order, first = negative (so "0"/"1", "a"/"b" map as people expect).
    index = {d: i for i, d in enumerate(distinct)}
    return [index[str(v).strip()] for v in values]


def read_table(path: str, text_column: str, label_column: str, encoding: str):
    """Read a CSV (comma) or TSV (tab) file with a header row."""
    with open(path, "rb") as f:
        text = decode(f.read(), encoding, path)
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    for column in (text_column, label_column):
        if column not in columns:
            raise UserError(
                f"{path}: no column {column!r} (columns: {', '.join(map(repr, columns)) or 'none'}); "
                f"set data.text_column / data.label_column"
            )
    texts, labels = [], []
    for row in reader:
        if row[text_column] is None or row[label_column] in (None, ""):
            continue
        texts.append(row[text_column])
        labels.append(row[label_column])
    if not texts:
        raise UserError(f"{path}: no examples (the file has a header but no rows)")
    return texts, normalise_labels(labels, label_column)


def read_line_files(directory: str, encoding: str):
    """The rt-polarity layout: every line of `*.pos` is positive, every line of `*.neg` negative."""
    texts, labels = [], []
    for name in sorted(os.listdir(directory)):
        label = {".pos": 1, ".neg": 0}.get(os.path.splitext(name)[1])
        if label is None:
            continue
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            # Split bytes on b"\n": decoding first and calling splitlines() would also split on
            # U+0085 and other Unicode line breaks that cp1252 text can contain.
            for lineno, raw in enumerate(f.read().split(b"\n"), 1):
                line = decode(raw, encoding, f"{path}:{lineno}").strip()
                if line:
                    texts.append(line)
                    labels.append(label)
    return texts, labels


def _dataset_to_lists(ds, encoding: str, where: str):
    """Decode an unbatched (text, label) dataset, naming the file of any text that does not decode."""
    texts, labels = [], []
    paths = getattr(ds, "file_paths", None)
    for i, (text, label) in enumerate(ds.as_numpy_iterator()):
        texts.append(decode(bytes(text), encoding, paths[i] if paths else where))
        labels.append(int(label))
    return texts, labels


def read_directory_tree(directory: str, encoding: str):
    """aclImdb layout: `pos/` and `neg/` text files, read with keras.utils.text_dataset_from_directory."""
    import keras

    ds = keras.utils.text_dataset_from_directory(
        directory, labels="inferred", label_mode="int", class_names=["neg", "pos"], batch_size=None, shuffle=False
    )
    return _dataset_to_lists(ds, encoding, directory)


def _has_class_dirs(directory: str) -> bool:
    return all(os.path.isdir(os.path.join(directory, c)) for c in ("pos", "neg"))


def read_path(path: str, config) -> Splits:
    if not os.path.exists(path):
        raise UserError(f"--data {path}: no such file or directory")
    if os.path.isfile(path):
        if not path.lower().endswith((".csv", ".tsv")):
            raise UserError(f"--data {path}: expected a .csv or .tsv file, or a directory")
        return Splits(read_table(path, config.text_column, config.label_column, config.encoding), None, path)
    if _has_class_dirs(path):
        return Splits(read_directory_tree(path, config.encoding), None, path)
    train_dir, test_dir = os.path.join(path, "train"), os.path.join(path, "test")
    if _has_class_dirs(train_dir):
        test = read_directory_tree(test_dir, config.encoding) if _has_class_dirs(test_dir) else None
        return Splits(read_directory_tree(train_dir, config.encoding), test, path)
    if any(name.endswith((".pos", ".neg")) for name in os.listdir(path)):
        return Splits(read_line_files(path, config.encoding), None, path)
    raise UserError(
        f"--data {path}: directory layout not recognised (expected pos/ and neg/ subfolders, "
        f"train/ and test/ holding them, or *.pos and *.neg files)"
    )


def read_tfds(name: str, config) -> Splits:
    if name not in TFDS_SOURCES:
        raise UserError(f"--data tfds:{name}: not a sentiment source; choose from {', '.join(TFDS_SOURCES)}")
    from keras_recurrent.tasks.tfds_loading import load_split

    text_key, train_split, test_split = TFDS_SOURCES[name]
    loaded = {}
    for split in (train_split, test_split):
        ds = load_split(name, split, config.tfds_dir)
        texts, labels = [], []
        for example in ds.as_numpy_iterator():
            texts.append(decode(example[text_key], "utf-8", f"tfds:{name}"))
            labels.append(int(example["label"]))
        loaded[split] = (texts, labels)
    return Splits(loaded[train_split], loaded[test_split], f"tfds:{name}")


def read_source(spec: str | None, config, seed: int) -> Splits:
    from keras_recurrent.tasks.sentiment.corpus import generate_corpus

    if not spec:
        return Splits(generate_corpus(config.num_examples, seed, config.negation), None, "embedded")
    if spec.startswith("tfds:"):
        return read_tfds(spec[len("tfds:"):], config)
    return read_path(spec, config)


def random_subset(examples: tuple[list, list], size: int, rng: np.random.Generator) -> tuple[list, list]:
    """At most `size` (text, label) pairs drawn without replacement, in their original order."""
    texts, labels = examples
    if len(texts) <= size:
        return examples
    keep = np.sort(rng.choice(len(texts), size=size, replace=False))
    return [texts[i] for i in keep], [labels[i] for i in keep]


def split_examples(splits: Splits, config, seed: int):
    """Train / validation / test lists; fixed by the seed, stratified so small sets keep both classes."""
    from sklearn.model_selection import train_test_split

    texts, labels = splits.train
    if not texts:
        raise UserError(f"{splits.source}: no examples found")
    if len(set(labels)) < 2:
        raise UserError(f"{splits.source}: every example has the same label; sentiment needs both classes")

    def cut(x, y, fraction, what):
        try:
            return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=y)
        except ValueError as e:
            raise UserError(f"{splits.source}: too few examples ({len(x)}) to hold out a {what} split: {e}") from None

    if splits.test is None:
        texts, test_texts, labels, test_labels = cut(texts, labels, config.test_fraction, "test")
    else:
        test_texts, test_labels = splits.test
    train_texts, val_texts, train_labels, val_labels = cut(texts, labels, config.validation_fraction, "validation")
    return (train_texts, train_labels), (val_texts, val_labels), (test_texts, test_labels)


def auto_sequence_length(token_counts: list[int], cap: int = 256) -> int:
    """95th percentile of the training lengths, rounded up to a multiple of 8, at most `cap`."""
    p95 = int(np.ceil(np.percentile(token_counts, 95))) if token_counts else 8
    return int(min(cap, max(8, -(-p95 // 8) * 8)))


def read_unlabeled(path: str, encoding: str) -> list[str]:
    """`data.unlabeled`: texts without labels, one a line (blank lines skipped), for pretraining."""
    if not os.path.isfile(path):
        raise UserError(f"data.unlabeled={path}: no such file")
    with open(path, "rb") as f:
        text = decode(f.read(), encoding, path)
    texts = [line.strip() for line in text.splitlines() if line.strip()]
    if not texts:
        raise UserError(f"data.unlabeled={path}: no texts in the file (one text a line expected)")
    return texts

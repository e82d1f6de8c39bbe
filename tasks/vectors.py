"""Pretrained word vectors, named or from a local file, aligned to a run's vocabulary.

`model.embeddings` takes a path, or the name of a published set, fetched on first use through
`tasks.assets` (the Keras cache, a pinned hash, resumable, `KERAS_RECURRENT_ASSETS_URL` for a mirror):

- `glove.6B.50d|100d|200d|300d`: GloVe trained on Wikipedia 2014 + Gigaword 5 (Pennington et al. 2014),
  read straight out of the publisher's `glove.6B.zip` (822 MB, the four sizes in one archive; nothing is
  unpacked to disk);
- `fasttext.en.300d`: fastText's English Wikipedia vectors (Bojanowski et al. 2017), `wiki.en.vec`.

The hashes are SHA-1, as Apache MXNet's `contrib.text` pinned the same publisher files (its
`_constants.py`); the publishers give none. Only the rows of the run's vocabulary are kept: they become
the embedding layer's initial values, saved with the run's model, so a run never refers to the archive
again and exports without it.

Formats, told apart by the file itself:

- text, one word and its numbers a line: GloVe (no header), word2vec text and fastText `.vec` (a first
  line "COUNT DIMENSION");
- word2vec binary (`.bin`): a header line "COUNT DIMENSION", then per word its bytes, a space, and
  DIMENSION little-endian float32 values.

Local files: GloVe (nlp.stanford.edu/projects/glove), fastText (fasttext.cc, `crawl-300d-2M.vec`) or
word2vec (`GoogleNews-vectors-negative300.bin`). Words are matched as the vocabulary holds them (lower-cased by
the task's standardisation), falling back to the file's lower-cased form.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from keras_recurrent.tasks.assets import Asset, fetch
from keras_recurrent.tasks.base import UserError


@dataclass(frozen=True)
class NamedVectors:
    """A published set: `member` of the archive `asset` (None: the file is the vectors), `dim` wide."""

    asset: Asset
    member: str | None
    dim: int


_GLOVE_6B = Asset("https://downloads.cs.stanford.edu/nlp/data/glove.6B.zip", "b64e54f1877d2f735bdd000c1d7d771e25c7dfdc")
NAMED = {f"glove.6B.{d}d": NamedVectors(_GLOVE_6B, f"glove.6B.{d}d.txt", d) for d in (50, 100, 200, 300)}
NAMED["fasttext.en.300d"] = NamedVectors(
    Asset("https://dl.fbaipublicfiles.com/fasttext/vectors-wiki/wiki.en.vec", "c1e418f144ceb332b4328d27addf508731fa87df"),
    None, 300)


def _text_rows(path: str, member: str | None = None):
    with _open_text(path, member) as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec / fastText header
            if len(parts) < 2:
                continue
            yield number, parts[0], parts[1:]


@contextlib.contextmanager
def _open_text(path: str, member: str | None):
    if member is None:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield f
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UserError(f"{path}: not a zip archive (expected {member} inside)") from None
    with archive:
        if member not in archive.namelist():
            raise UserError(f"{path}: the archive holds no {member}")
        with archive.open(member) as raw:  # streamed, not unpacked; zipfile checks the CRC as it reads
            yield io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def resolve(value: str, dim: int) -> tuple[str, str | None, dict]:
    """`model.embeddings` -> (local file, member of it or None, facts for the coverage report).

    A name of `NAMED` is fetched (unless a file of that name exists here); its width must equal `dim`,
    checked before anything is downloaded.
    """
    named = NAMED.get(value)
    if named is None or os.path.exists(value):
        return value, None, {}
    if named.dim != dim:
        raise UserError(f"model.embeddings={value}: its vectors have {named.dim} numbers, but "
                        f"model.embedding_dim={dim}; add --set model.embedding_dim={named.dim}")
    path = fetch(named.asset, f"model.embeddings={value}")
    return path, named.member, {"name": value, "url": named.asset.url, "sha1": named.asset.file_hash}


def _binary_rows(path: str):
    with open(path, "rb") as f:
        header = f.readline().split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise UserError(f"model.embeddings={path}: not a word2vec binary file (no 'COUNT DIMENSION' header)")
        count, dim = int(header[0]), int(header[1])
        for number in range(count):
            word = bytearray()
            while (byte := f.read(1)) not in (b" ", b""):
                if byte != b"\n":
                    word.extend(byte)
            values = f.read(4 * dim)
            if len(values) < 4 * dim:
                raise UserError(f"model.embeddings={path}: truncated at word {number + 1} of {count}")
            yield number + 2, word.decode("utf-8", errors="replace"), np.frombuffer(values, dtype="<f4")


# The last alignment, keyed by the file's identity, the vocabulary and the width: a sweep builds a model
# per trial from the same file and vocabulary, and a large vectors file takes minutes to read.
_LAST: dict = {}


def aligned_vectors(value: str, vocabulary: list[str], dim: int) -> tuple[np.ndarray, dict]:
    """(matrix (len(vocabulary), dim), coverage): row i is the vector of vocabulary[i] in `value`, a path
    or a name of `NAMED`.

    Words the file lacks keep small random rows (the scale of the found vectors); index 0 (padding)
    stays zero. Raises UserError for a missing file, a dimension other than `dim`, a bad number, or a
    named set that cannot be fetched. A repeated call with the same unchanged file, vocabulary and width
    returns the previous result without reading the file again.
    """
    path, member, facts = resolve(value, dim)
    if not os.path.isfile(path):
        raise UserError(f"model.embeddings={path}: no such file")
    stat = os.stat(path)
    key = (os.path.abspath(path), member, stat.st_size, stat.st_mtime_ns, hash(tuple(vocabulary)), dim)
    if key in _LAST:
        matrix, coverage = _LAST[key]
        return matrix.copy(), dict(coverage)
    result = _read_aligned(path, vocabulary, dim, member, value)
    result[1].update(facts)
    _LAST.clear()
    _LAST[key] = result
    return result[0].copy(), dict(result[1])


def _read_aligned(path: str, vocabulary: list[str], dim: int, member: str | None = None,
                  value: str = "") -> tuple[np.ndarray, dict]:
    index = {word: i for i, word in enumerate(vocabulary) if i > 0 and word}
    matrix = np.zeros((len(vocabulary), dim), dtype="float32")
    found = np.zeros(len(vocabulary), dtype=bool)
    rows = _binary_rows(path) if path.endswith(".bin") else _text_rows(path, member)
    # Errors name the setting as the user wrote it, and the file (and member) it was read from.
    label = path if value in ("", path) else f"{value} ({path}{', ' + member if member else ''})"
    for number, word, values in rows:
        i = index.get(word)
        if i is None:
            i = index.get(word.lower())
            if i is None or found[i]:
                continue
        if len(values) != dim:
            raise UserError(f"model.embeddings={label}, line {number}: {len(values)} numbers, but "
                            f"model.embedding_dim={dim}; set it to the file's dimension")
        try:
            matrix[i] = np.asarray(values, dtype="float32")
        except ValueError:
            raise UserError(f"model.embeddings={label}, line {number}: not a number among the values of {word!r}") from None
        found[i] = True
    words = len(index)
    hits = int(found.sum())
    if hits == 0:
        raise UserError(f"model.embeddings={label}: none of the {words} vocabulary words is in the file")
    scale = float(matrix[found].std())
    rng = np.random.default_rng(0)
    missing = [i for i in index.values() if not found[i]]
    matrix[missing] = rng.normal(0.0, scale, (len(missing), dim)).astype("float32")
    top = [i for i in sorted(index.values())[:1000]]  # the vocabulary is ordered by frequency
    coverage = {
        "file": os.path.abspath(path) + (f" ({member})" if member else ""),
        "vocabulary_words": words,
        "found": hits,
        "share_of_vocabulary": round(hits / words, 4),
        "share_of_1000_most_frequent": round(float(found[top].mean()), 4),
    }
    return matrix, coverage

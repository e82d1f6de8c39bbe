"""Pretrained word vectors from a local file, aligned to a run's vocabulary.

Formats, told apart by the file itself:

- text, one word and its numbers a line: GloVe (no header), word2vec text and fastText `.vec` (a first
  line "COUNT DIMENSION");
- word2vec binary (`.bin`): a header line "COUNT DIMENSION", then per word its bytes, a space, and
  DIMENSION little-endian float32 values.

Real vectors: GloVe (nlp.stanford.edu/projects/glove, `glove.6B.300d.txt`), fastText
(fasttext.cc, `crawl-300d-2M.vec`) or word2vec (`GoogleNews-vectors-negative300.bin`); download them once
and point `model.embeddings` at the file. Words are matched as the vocabulary holds them (lower-cased by
the task's standardisation), falling back to the file's lower-cased form.
"""

from __future__ import annotations

import os

import numpy as np

from keras_recurrent.tasks.base import UserError


def _text_rows(path: str):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec / fastText header
            if len(parts) < 2:
                continue
            yield number, parts[0], parts[1:]


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


def aligned_vectors(path: str, vocabulary: list[str], dim: int) -> tuple[np.ndarray, dict]:
    """(matrix (len(vocabulary), dim), coverage): row i is the file's vector of vocabulary[i].

    Words the file lacks keep small random rows (the scale of the found vectors); index 0 (padding)
    stays zero. Raises UserError for a missing file, a dimension other than `dim`, or a bad number.
    A repeated call with the same unchanged file, vocabulary and width returns the previous result
    without reading the file again.
    """
    if not os.path.isfile(path):
        raise UserError(f"model.embeddings={path}: no such file")
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, hash(tuple(vocabulary)), dim)
    if key in _LAST:
        matrix, coverage = _LAST[key]
        return matrix.copy(), dict(coverage)
    result = _read_aligned(path, vocabulary, dim)
    _LAST.clear()
    _LAST[key] = result
    return result[0].copy(), dict(result[1])


def _read_aligned(path: str, vocabulary: list[str], dim: int) -> tuple[np.ndarray, dict]:
    index = {word: i for i, word in enumerate(vocabulary) if i > 0 and word}
    matrix = np.zeros((len(vocabulary), dim), dtype="float32")
    found = np.zeros(len(vocabulary), dtype=bool)
    rows = _binary_rows(path) if path.endswith(".bin") else _text_rows(path)
    for number, word, values in rows:
        i = index.get(word)
        if i is None:
            i = index.get(word.lower())
            if i is None or found[i]:
                continue
        if len(values) != dim:
            raise UserError(f"model.embeddings={path}, line {number}: {len(values)} numbers, but "
                            f"model.embedding_dim={dim}; set it to the file's dimension")
        try:
            matrix[i] = np.asarray(values, dtype="float32")
        except ValueError:
            raise UserError(f"model.embeddings={path}, line {number}: not a number among the values of {word!r}") from None
        found[i] = True
    words = len(index)
    hits = int(found.sum())
    if hits == 0:
        raise UserError(f"model.embeddings={path}: none of the {words} vocabulary words is in the file")
    scale = float(matrix[found].std())
    rng = np.random.default_rng(0)
    missing = [i for i in index.values() if not found[i]]
    matrix[missing] = rng.normal(0.0, scale, (len(missing), dim)).astype("float32")
    top = [i for i in sorted(index.values())[:1000]]  # the vocabulary is ordered by frequency
    coverage = {
        "file": os.path.abspath(path),
        "vocabulary_words": words,
        "found": hits,
        "share_of_vocabulary": round(hits / words, 4),
        "share_of_1000_most_frequent": round(float(found[top].mean()), 4),
    }
    return matrix, coverage

"""Byte-pair encoding of words into subwords (Sennrich, Haddow & Birch, "Neural Machine Translation of Rare
Words with Subword Units", ACL 2016), learned here and applied inside the TensorFlow graph.

Learning: every word of the training texts starts as its characters, the last one marked as ending the
word (`low` -> `l o w</w>`); the most frequent adjacent pair of symbols (counted over word frequencies) is
merged into one new symbol, and this repeats `num_merges` times. The merges, in order, are the model.

Encoding a word applies the merges in the order learned, each merging every occurrence of its pair from
left to right. A frequent word ends as one symbol (`low</w>`); a rare or unseen one as pieces the model
has seen (`lowest` -> `low est</w>` once `low` and `est</w>` are merges), so nothing is out of vocabulary
but characters never seen.

`BytePairSplit` does the encoding with TensorFlow string ops (a `split` for `keras.layers.TextVectorization`),
so an exported model reads raw text as training did: each symbol is written between two marker characters,
so a merge is one literal regex replacement that cannot match across symbol boundaries.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict

END_OF_WORD = "</w>"
_OPEN, _CLOSE = "\x01", "\x02"  # around each symbol inside the graph; never in standardised text


def learn_merges(word_counts: dict, num_merges: int) -> list:
    """The first `num_merges` merges [a, b] learned from {word: count} (fewer if every word is one symbol).

    Pair counts are kept up to date incrementally (only the words holding the merged pair change), with a
    heap of (count, pair) whose stale entries are skipped; ties go to the pair first in sorted order.
    """
    words = [_symbols(word) for word in word_counts]
    counts = [int(c) for c in word_counts.values()]
    pairs: Counter = Counter()
    holders = defaultdict(set)  # pair -> indices of the words that (may) hold it
    for i, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pairs[pair] += counts[i]
            holders[pair].add(i)
    heap = [(-n, pair) for pair, n in pairs.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < num_merges:
        negative, pair = heapq.heappop(heap)
        if pairs.get(pair, 0) != -negative or -negative <= 0:
            continue  # stale: the count changed since this entry was pushed
        merges.append(list(pair))
        changed = set()
        for i in holders.pop(pair, ()):
            old = words[i]
            new = _merge(old, pair)
            if new == old:
                continue
            for p in zip(old, old[1:]):
                pairs[p] -= counts[i]
                changed.add(p)
            for p in zip(new, new[1:]):
                pairs[p] += counts[i]
                holders[p].add(i)
                changed.add(p)
            words[i] = new
        pairs.pop(pair, None)
        for p in changed - {pair}:
            if pairs[p] > 0:
                heapq.heappush(heap, (-pairs[p], p))
            else:
                pairs.pop(p, None)
    return merges


def encode(word: str, merges: list) -> list:
    """The subwords of one word (a NumPy-free reference of what the graph computes)."""
    return _encode(word, {tuple(m): r for r, m in enumerate(merges)})


def _encode(word: str, rank: dict) -> list:
    symbols = _symbols(word)
    while len(symbols) > 1:
        ranked = [(rank[p], p) for p in zip(symbols, symbols[1:]) if p in rank]
        if not ranked:
            break
        # The earliest merge present; a pair it creates ranks later (its symbol did not exist before it),
        # so this equals applying every merge in order.
        symbols = _merge(symbols, min(ranked)[1])
    return symbols


def subword_symbols(words, merges) -> list:
    """Every symbol that encoding can produce: each character seen, inside and ending a word, and each merge."""
    chars = sorted({c for w in words for c in w})
    return [*chars, *(c + END_OF_WORD for c in chars), *(a + b for a, b in merges)]


def _symbols(word: str) -> list:
    return [*word[:-1], word[-1] + END_OF_WORD] if word else []


def _merge(symbols: list, pair: tuple) -> list:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == tuple(pair):
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _literal(text: str) -> str:
    """`text` as an RE2 pattern matching itself."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)  # ASCII punctuation only: RE2 rejects \é


class BytePairSplit:
    """A `split` for TextVectorization: standardised texts (batch,) -> subwords, ragged (batch, None).

    Words are split on whitespace. The words given (those of the training texts) are encoded here once and
    looked up in a hash table; any other word of a batch is encoded in the graph by the merges in order,
    one `regex_replace` a merge inside a `tf.while_loop`, each distinct word once.

    Args:
        merges: the [a, b] pairs of `learn_merges`, in order.
        words: words to encode ahead (the graph loop costs a regex pass per merge).
    """

    def __init__(self, merges, words=()):
        import tensorflow as tf

        self.merges = [[str(a), str(b)] for a, b in merges]
        words = sorted({str(w) for w in words if w})
        rank = {tuple(m): r for r, m in enumerate(self.merges)}
        # Resources live on a tf.Module, so an exported model that tracks this object carries them.
        self.resources = tf.Module()
        self.resources.known = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words or [""], tf.string),
                tf.constant([" ".join(_encode(w, rank)) for w in words] or [""], tf.string)),
            default_value="")
        self._encode_in_graph = tf.function(self._encode_in_graph, input_signature=[tf.TensorSpec([None], tf.string)],
                                            autograph=False)

    def __call__(self, texts):
        import tensorflow as tf

        words = tf.strings.split(texts)  # ragged (batch, words)
        unique, index = tf.unique(words.flat_values)
        found = self.resources.known.lookup(unique)
        missing = tf.where(tf.equal(found, ""))
        encoded = tf.tensor_scatter_nd_update(found, missing, self._encode_in_graph(tf.gather_nd(unique, missing)))
        per_word = tf.gather(tf.strings.split(encoded), index)  # ragged (words in the batch, pieces)
        return tf.RaggedTensor.from_row_splits(per_word.flat_values, tf.gather(per_word.row_splits, words.row_splits))

    def _encode_in_graph(self, words):
        """(n,) words -> (n,) their subwords joined by spaces."""
        import tensorflow as tf

        chars = tf.strings.unicode_split(words, "UTF-8")
        marked = tf.strings.reduce_join(chars.with_flat_values(_OPEN + chars.flat_values + _CLOSE), axis=-1)
        marked = tf.strings.regex_replace(marked, _CLOSE + "$", END_OF_WORD + _CLOSE)
        if self.merges:
            patterns = tf.constant([_literal(_OPEN + a + _CLOSE + _OPEN + b + _CLOSE) for a, b in self.merges])
            replacements = tf.constant([_OPEN + (a + b).replace("\\", "\\\\") + _CLOSE for a, b in self.merges])

            def apply(i, text):
                return i + 1, tf.strings.regex_replace(text, patterns[i], replacements[i])

            def loop():
                return tf.while_loop(lambda i, _: i < len(self.merges), apply, (tf.constant(0), marked))[1]

            marked = tf.cond(tf.size(words) > 0, loop, lambda: marked)  # most batches hold no unknown word
        return tf.strings.strip(tf.strings.regex_replace(tf.strings.regex_replace(marked, _OPEN, ""), _CLOSE, " "))


__all__ = ["BytePairSplit", "END_OF_WORD", "encode", "learn_merges", "subword_symbols"]

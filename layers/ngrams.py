"""A linear model over the bag of n-grams of a token-id sequence, to sit beside a recurrent reader.

A bag of uni- and bigrams with a linear classifier is the strong baseline of short-text sentiment
(Wang & Manning, "Baselines and Bigrams: Simple, Good Sentiment and Topic Classification", ACL 2012), and
adding its score to a neural model's is how Mesnil et al. ("Ensemble of Generative and Discriminative
Techniques for Sentiment Analysis of Movie Reviews", ICLR 2015 workshop) and fastText (Joulin et al., "Bag
of Tricks for Efficient Text Classification", EACL 2017) use it. With the two trained jointly, the recurrent
part learns what the bag misses: word order beyond adjacent pairs, negation scope, contrast.

For ids x_1..x_T (0 = padding) and n-grams up to `max_n`:

    unigram   u_t        = x_t                                               one row per vocabulary entry
    n-gram    h_t^(n)    = (((x'_t P + x'_{t+1}) mod B) P + ...) mod B    x' = x mod B, P = 4093, B = `buckets`
    output    y          = sum_t U[u_t] + sum_{n>=2} sum_t H[h_t^(n)]        over n-grams without padding

U (vocabulary x units) and H (B x units) start at zero, so the layer first outputs 0 and its score grows
only as far as training asks. Every operation is an int32 or gather op that TFLite runs natively; the hash
keeps intermediate values below 2^31 (B <= 2^18, P < 2^12, every term reduced mod B first).
"""

from __future__ import annotations

import keras
from keras import ops

_PRIME = 4093


@keras.saving.register_keras_serializable(package="keras_recurrent")
class BagOfNgrams(keras.layers.Layer):
    """Sum of learned vectors of every n-gram (n = 1..max_n) of an id sequence; padding (id 0) ignored.

    Args:
        vocabulary_size: number of token ids (the unigram table's rows).
        max_n: longest n-gram (1: unigrams only).
        buckets: rows of the hashed table shared by all n-grams with n >= 2.
        units: width of each n-gram's vector (1: a logit).

    Call arguments:
        inputs: (batch, time) int token ids, 0 for padding.

    Returns:
        (batch, units) float.

    Example:

    >>> BagOfNgrams(100, max_n=2, buckets=1024)(np.array([[5, 7, 0]])).shape
    (1, 1)
    """

    def __init__(self, vocabulary_size: int, max_n: int = 2, buckets: int = 2**18, units: int = 1, **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size < 1 or units < 1:
            raise ValueError(f"vocabulary_size and units must be positive, got {vocabulary_size} and {units}")
        if max_n < 1:
            raise ValueError(f"max_n must be at least 1, got {max_n}")
        if not 1 <= buckets <= 2**18:
            raise ValueError(f"buckets must be in [1, 2**18] (the hash stays in int32), got {buckets}")
        self.vocabulary_size, self.max_n, self.buckets, self.units = vocabulary_size, max_n, buckets, units

    def build(self, input_shape):
        self.unigrams = self.add_weight(name="unigrams", shape=(self.vocabulary_size, self.units), initializer="zeros")
        if self.max_n > 1:
            self.hashed = self.add_weight(name="hashed", shape=(self.buckets, self.units), initializer="zeros")

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        present = ops.cast(ids > 0, self.compute_dtype)
        total = ops.sum(ops.take(self.unigrams, ids, axis=0) * ops.expand_dims(present, -1), axis=1)
        reduced = ops.mod(ids, self.buckets)
        code, valid = reduced, present
        for n in range(2, self.max_n + 1):
            # The n-gram starting at t: extend the (n-1)-gram at t by the id at t + n - 1.
            code = ops.mod(code[:, :-1] * _PRIME + reduced[:, n - 1:], self.buckets)
            valid = valid[:, :-1] * present[:, n - 1:]
            total = total + ops.sum(ops.take(self.hashed, code, axis=0) * ops.expand_dims(valid, -1), axis=1)
        return total

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "max_n": self.max_n,
                "buckets": self.buckets, "units": self.units}

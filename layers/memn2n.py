"""End-to-end memory network (Sukhbaatar, Szlam, Weston & Fergus, "End-To-End Memory Networks",
NeurIPS 2015), with adjacent weight tying, position encoding, temporal encoding and linear start.

A story is a set of sentences x_1..x_n, each a bag of word ids; the question q is one more. With K hops
and K + 1 embedding matrices E_0..E_K (adjacent tying: the input embedding of hop k + 1 is the output
embedding of hop k, A^{k+1} = C^k; the question embedding is the first, B = A^1; the answer matrix is
the last, W^T = C^K) and temporal matrices T_0..T_K tied the same way:

    position encoding   l_kj = (1 - j/J) - (k/d)(1 - 2j/J)      word j of J in a sentence, dimension k of d
                        (or the authors' code's l_kj = 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J): `position_weights`)
    memories of hop k   m_i = sum_j l_j * E_{k-1}[x_ij] + T_{k-1}[t_i]
                        c_i = sum_j l_j * E_k[x_ij] + T_k[t_i]
    question            u^1 = sum_j l_j * E_0[q_j]
    attention           p_i = softmax_i(u^k . m_i)          (linear start: p_i = u^k . m_i, no softmax)
    next controller     u^{k+1} = u^k + sum_i p_i c_i
    answer logits       a = E_K (u^K + o^K)                  o^K = sum_i p_i c_i of the last hop

t_i counts sentences back from the question (the most recent sentence is 0), so the temporal encoding
says how long ago a fact was stated. Linear start (section 4.2) trains with the softmax removed until the
validation loss stops falling, then puts it back: `linear_start` is a non-trainable switch a callback
flips, saved with the weights. Random noise (section 4.1) adds empty memories to stories in training:
word id 1 marks a sentence that is an empty memory (it has a temporal embedding and takes part in the
attention, but no words); id 0 is padding. With `random_noise=r` the layer itself, in training only,
puts an empty memory before each sentence with probability r, a fresh draw every step (as dropout), so
the temporal encoding cannot learn one fixed spacing of the facts; the story keeps its last
`sentences` rows.
"""

from __future__ import annotations

import keras
from keras import ops

PAD, EMPTY = 0, 1  # reserved word ids: padding, and the empty memory of random noise


def centred_position_weights(width: int, dim: int):
    """(width, dim) weights of the authors' released code: 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J), for word
    j of a row of J = `width` slots (the longest sentence plus one slot, the last, for the time)."""
    k = ops.arange(1, dim + 1, dtype="float32")
    j = ops.arange(1, width + 1, dtype="float32")
    return 1.0 + 4.0 * ops.expand_dims(j - (width + 1) / 2.0, -1) * (k - (dim + 1) / 2.0) / (dim * width)


def position_encoding(ids, dim: int):
    """(..., J) word ids -> (..., J, dim) weights l_kj of the paper, J counted per sentence (its real words)."""
    real = ops.cast(ids > EMPTY, "float32")
    length = ops.maximum(ops.sum(real, axis=-1, keepdims=True), 1.0)  # J of each sentence
    j = ops.cumsum(real, axis=-1)  # 1-based position among the real words
    k = ops.arange(1, dim + 1, dtype="float32") / dim
    ratio = ops.expand_dims(j / length, -1)
    return ((1.0 - ratio) - k * (1.0 - 2.0 * ratio)) * ops.expand_dims(real, -1)


@keras.saving.register_keras_serializable(package="keras_recurrent")
class MemN2N(keras.layers.Layer):
    """An end-to-end memory network reading a story to answer a question with one word.

    Args:
        vocabulary_size: word ids are 0 (padding), 1 (empty memory) and 2..vocabulary_size - 1.
        embedding_dim: d.
        hops: K, memory hops.
        max_memories: the longest story (in sentences) the temporal encoding covers.
        position_encoding: weight words by position (else a plain bag of words).
        position_weights: "paper": l_kj of the paper, J the sentence's own length; "centred": the form of
            the authors' released code, 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J) with J the longest
            sentence plus a time slot, the temporal vectors weighted by that last slot (with SGD and its
            clipping it solves bAbI task 16, which the paper's form does not: benchmarks/README.md).
        temporal_encoding: add T[t_i] to each memory.
        random_noise: in training, the probability of an empty memory before each sentence (0 = none).
        seed: seed of the random noise.
        noise: "memories": an empty memory is a memory (a temporal vector, no words) the attention can
            choose (the paper's text); "time_gaps": it only moves the times of the sentences told before it
            and is never chosen (the authors' code, which draws gaps in the time indices).
        padding_in_softmax: the memory's unused slots (padding) stay in the softmax with a score of 0
            and read nothing (the authors' code, whose memory always holds its 50 slots); else they are
            masked out.

    Call arguments:
        inputs: `[story, question]`: story (batch, sentences, words) ids, sentences in the order told and
            padded at the end; question (batch, words) ids.
        training: whether random noise is added.

    Returns:
        (batch, vocabulary_size) answer logits.

    Example:

    >>> memn2n = MemN2N(30, embedding_dim=16, hops=3, max_memories=10)
    >>> logits = memn2n([np.random.randint(2, 30, (4, 10, 6)), np.random.randint(2, 30, (4, 5))])
    >>> tuple(logits.shape), tuple(memn2n.attention([np.ones((4, 10, 6), "int32"), np.ones((4, 5), "int32")]).shape)
    ((4, 30), (4, 3, 10))
    """

    def __init__(self, vocabulary_size: int, embedding_dim: int = 20, hops: int = 3, max_memories: int = 50,
                 position_encoding: bool = True, temporal_encoding: bool = True, random_noise: float = 0.0,
                 seed=None, position_weights: str = "paper", noise: str = "memories", padding_in_softmax: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        if noise not in ("memories", "time_gaps"):
            raise ValueError(f"noise must be 'memories' or 'time_gaps', got {noise!r}")
        self.noise = noise
        self.padding_in_softmax = bool(padding_in_softmax)
        if position_weights not in ("paper", "centred"):
            raise ValueError(f"position_weights must be 'paper' or 'centred', got {position_weights!r}")
        self.position_weights = position_weights
        if not 0.0 <= float(random_noise) < 1.0:
            raise ValueError(f"random_noise must be in [0, 1), got {random_noise}")
        self.random_noise = float(random_noise)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.random_noise else None
        for name, value, low in (("vocabulary_size", vocabulary_size, 3), ("embedding_dim", embedding_dim, 1),
                                 ("hops", hops, 1), ("max_memories", max_memories, 1)):
            if int(value) < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        self.vocabulary_size = int(vocabulary_size)
        self.embedding_dim = int(embedding_dim)
        self.hops = int(hops)
        self.max_memories = int(max_memories)
        self.use_position_encoding = bool(position_encoding)
        self.use_temporal_encoding = bool(temporal_encoding)

    def build(self, input_shape):
        init = keras.initializers.RandomNormal(stddev=0.1)  # the paper's N(0, 0.1) initialisation
        self.embeddings = self.add_weight(name="embeddings", shape=(self.hops + 1, self.vocabulary_size, self.embedding_dim),
                                          initializer=init)
        self.temporal = self.add_weight(name="temporal", shape=(self.hops + 1, self.max_memories, self.embedding_dim),
                                        initializer=init)
        self.linear_start = self.add_weight(name="linear_start", shape=(), initializer="zeros", trainable=False)

    def _encode(self, ids, table, centred=None):
        vectors = ops.take(table, ids, axis=0)  # (..., J, d)
        if centred is not None:  # given only with position encoding on
            weights = centred[: ids.shape[-1]] * ops.expand_dims(ops.cast(ids > EMPTY, "float32"), -1)
        elif self.use_position_encoding:
            weights = position_encoding(ids, self.embedding_dim)
        else:
            weights = ops.expand_dims(ops.cast(ids > EMPTY, "float32"), -1)
        return ops.sum(vectors * weights, axis=-2)

    def _hops(self, story, question):
        story = ops.cast(story, "int32")
        question = ops.cast(question, "int32")
        occupied = ops.any(story != PAD, axis=-1)  # (batch, sentences): memories, empty ones included
        count = ops.sum(ops.cast(occupied, "int32"), axis=-1, keepdims=True)
        ago = ops.clip(count - 1 - ops.arange(ops.shape(story)[1], dtype="int32"), 0, self.max_memories - 1)
        # What the attention may choose: every memory, or (noise as time gaps) the sentences only, an empty
        # memory having moved the times of the sentences before it. The memory's unused slots are left out,
        # or (`padding_in_softmax`, the authors' code) stay in the softmax with no words and no time: a score
        # of 0 and nothing to read, a place for attention to go that adds nothing.
        slots = ops.any(story > EMPTY, axis=-1) if self.noise == "time_gaps" else occupied
        outside = ops.where(occupied, -1e9, 0.0 if self.padding_in_softmax else -1e9)  # score where not chosen
        in_memory = ops.expand_dims(ops.cast(slots, "float32"), -1)
        centred, time_weight = None, 1.0
        if self.use_position_encoding and self.position_weights == "centred":
            # The authors' code writes the time as one more word after the longest sentence: J counts it,
            # and the temporal vector takes the weights of that last slot.
            centred = centred_position_weights(max(story.shape[-1], question.shape[-1]) + 1, self.embedding_dim)
            time_weight = centred[-1]
        u = self._encode(question, self.embeddings[0], centred)
        attentions = []
        for k in range(1, self.hops + 1):
            m = self._encode(story, self.embeddings[k - 1], centred)
            c = self._encode(story, self.embeddings[k], centred)
            if self.use_temporal_encoding:
                m = m + ops.take(self.temporal[k - 1], ago, axis=0) * time_weight * in_memory
                c = c + ops.take(self.temporal[k], ago, axis=0) * time_weight * in_memory
            scores = ops.sum(m * ops.expand_dims(u, 1), axis=-1)  # (batch, sentences)
            masked = ops.where(slots, scores, outside)
            soft = ops.softmax(masked, axis=-1)
            linear = ops.where(slots, scores, ops.zeros_like(scores))
            p = self.linear_start * linear + (1.0 - self.linear_start) * soft
            o = ops.sum(ops.expand_dims(p, -1) * c, axis=1)
            u = u + o
            attentions.append(p)
        return u, ops.stack(attentions, axis=1)

    def with_empty_memories(self, story):
        """The story with an empty memory put before each sentence with probability `random_noise`.

        Real sentence i moves to position i + (empty memories drawn up to and including i); the result
        keeps the last `sentences` rows of the longer story, real rows first and padding after, as given.
        """
        story = ops.cast(story, "int32")
        size = ops.shape(story)[1]
        real = ops.any(story != PAD, axis=-1)  # (batch, sentences)
        draw = keras.random.uniform(ops.shape(real), seed=self.seed_generator) < self.random_noise
        empty_before = ops.logical_and(draw, real)
        position = ops.arange(size, dtype="int32") + ops.cumsum(ops.cast(empty_before, "int32"), axis=-1)
        position = ops.where(real, position, ops.full_like(position, 2 * size + 1))  # padding rows never match
        total = ops.sum(ops.cast(real, "int32") + ops.cast(empty_before, "int32"), axis=-1, keepdims=True)
        wanted = ops.arange(size, dtype="int32") + ops.maximum(total - size, 0)  # (batch, sentences) positions kept
        # The source sentence of each wanted position: the last real sentence at or before it.
        reached = ops.sum(ops.cast(ops.expand_dims(position, 1) <= ops.expand_dims(wanted, 2), "int32"), axis=-1)
        source = ops.clip(reached - 1, 0, size - 1)
        is_sentence = ops.logical_and(reached > 0, ops.take_along_axis(position, source, axis=1) == wanted)
        rows = ops.take_along_axis(story, ops.expand_dims(source, -1), axis=1)
        empty = ops.concatenate([ops.full_like(rows[..., :1], EMPTY), ops.zeros_like(rows[..., 1:])], axis=-1)
        inside = ops.expand_dims(wanted < total, -1)
        return ops.where(ops.expand_dims(is_sentence, -1), rows, ops.where(inside, empty, ops.zeros_like(rows)))

    def call(self, inputs, training=False):
        story, question = inputs
        if training and self.random_noise:
            story = self.with_empty_memories(story)
        u, _ = self._hops(story, question)
        return ops.matmul(u, ops.transpose(self.embeddings[self.hops]))

    def attention(self, inputs):
        """(batch, hops, sentences): where each hop looked (for plots)."""
        return self._hops(*inputs)[1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.vocabulary_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size, "embedding_dim": self.embedding_dim, "hops": self.hops,
            "max_memories": self.max_memories, "position_encoding": self.use_position_encoding,
            "temporal_encoding": self.use_temporal_encoding, "random_noise": self.random_noise, "seed": self.seed,
            "position_weights": self.position_weights, "noise": self.noise,
            "padding_in_softmax": self.padding_in_softmax,
        }


__all__ = ["EMPTY", "MemN2N", "PAD", "centred_position_weights", "position_encoding"]

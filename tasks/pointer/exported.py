"""Greedy decoding of a pointer network inside the exported graph: point sets in, answers out.

`decode_endpoint` is the pointer tasks' `decode` signature (SavedModel, and a TFLite model of builtin ops):

    points  (batch, max_points, dims) float32: each set's points first, anything after them ignored;
    count   (batch,) int32: how many points each set has (the task's smallest size up to max_points);
 -> order   (batch, max_points) int32: the chosen points, 0-based, then -1 after the answer ends;
    size    (batch,) int32: how many points the answer has;
    tour_length (batch,) float32, for tsp: the closed tour's length.

It is `decoding.greedy` written as a `tf.while_loop`: each step runs the whole teacher-forced model on the
prefix decoded so far (padded to the fixed number of steps), reads that step's distribution, and feeds the
choice back as the next step's `previous`, stopping once every set has chosen the stop position. The model's
pointer already gives probability zero to padding and to points chosen before; the loop also refuses them
itself (`allowed` below), so that an answer is a valid order whatever the weights are: a point is never
chosen twice and a position past `count` never at all.

Beam search is not exported (not built: greedy only); in Python, `recurrent evaluate RUN --set
model.beam_width=K` decodes by beam search, and so does `predict` for a run trained with that setting.
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.pointer.decoding import greedy


def encode(points, count, dims: int):
    """The model's input positions (the encoding of `encode_points`) from padded points and their counts,
    as TensorFlow ops: the stop symbol at position 0, the first `count` points with their flag, zeros after."""
    import tensorflow as tf

    max_points = points.shape[1]
    real = tf.sequence_mask(count, max_points, dtype=tf.float32)[..., None]  # (batch, max_points, 1)
    body = tf.concat([points * real, real, tf.zeros_like(real)], axis=-1)
    stop = tf.one_hot(dims + 1, dims + 2, dtype=tf.float32)[None, None] * tf.ones_like(body[:, :1, :1])
    return tf.concat([stop, body], axis=1)


def greedy_in_graph(model, points, count, dims: int, guard: bool = True):
    """(order, size) of greedy decoding, TensorFlow ops only (the module docstring).
    `guard=False` leaves out the loop's own refusal of chosen and padding positions (tests break it with it)."""
    import tensorflow as tf

    features = encode(points, count, dims)
    positions = features.shape[1]
    steps = positions  # as in Python: every point, then the stop position
    batch = tf.shape(points)[0]
    index = tf.range(positions, dtype=tf.int32)
    real = index[None] <= count[:, None]  # the stop position and the set's points
    previous = tf.zeros([batch, steps], tf.int32)
    chosen = tf.zeros([batch, steps], tf.int32)
    taken = tf.zeros([batch, positions], tf.bool)  # points chosen so far (never the stop position)
    stopped = tf.zeros([batch], tf.bool)

    def step(t, previous, chosen, taken, stopped):
        probabilities = tf.gather(model([features, previous], training=False), t, axis=1)  # (batch, positions)
        allowed = tf.logical_and(real, tf.logical_not(taken)) if guard else tf.ones_like(real)
        choice = tf.argmax(tf.where(allowed, probabilities, -1.0), axis=-1, output_type=tf.int32)
        chosen += choice[:, None] * tf.one_hot(t, steps, dtype=tf.int32)[None]
        previous += choice[:, None] * tf.one_hot(t + 1, steps, dtype=tf.int32)[None]  # none past the last step
        taken = tf.logical_or(taken, tf.logical_and(tf.equal(index[None], choice[:, None]), index[None] > 0))
        return t + 1, previous, chosen, taken, tf.logical_or(stopped, tf.equal(choice, 0))

    def going(t, previous, chosen, taken, stopped):
        return tf.logical_and(t < steps, tf.logical_not(tf.reduce_all(stopped)))

    _, _, chosen, _, _ = tf.while_loop(going, step, [tf.constant(0), previous, chosen, taken, stopped])
    # Steps never run hold 0, the stop position, like the rows that stopped: the answer is what came before it.
    # (Only an unguarded loop can reach the last step without stopping: the answer is cut to max_points.)
    answer = tf.equal(tf.cumsum(tf.cast(tf.equal(chosen, 0), tf.int32), axis=1), 0)[:, : positions - 1]
    order = tf.where(answer, chosen[:, : positions - 1] - 1, -1)
    return order, tf.reduce_sum(tf.cast(answer, tf.int32), axis=1)


def tour_length(points, order, size):
    """The closed tour's length for each set (TensorFlow ops): from each chosen point to the next, and back."""
    import tensorflow as tf

    slots = tf.range(tf.shape(order)[1], dtype=tf.int32)[None]
    visited = tf.gather(points, tf.maximum(order, 0), batch_dims=1)
    following = tf.gather(visited, tf.math.floormod(slots + 1, tf.maximum(size[:, None], 1)), batch_dims=1)
    legs = tf.sqrt(tf.reduce_sum(tf.square(visited - following), axis=-1))
    return tf.reduce_sum(tf.where(slots < size[:, None], legs, 0.0), axis=1)


def decode_endpoint(task, model, info: dict, guard: bool = True):
    """The `decode` export signature of a pointer task, with its check against `decoding.greedy`."""
    import tensorflow as tf

    from keras_recurrent.tasks.base import Endpoint
    from keras_recurrent.tasks.pointer import problems
    from keras_recurrent.tasks.pointer import encode_points

    dims, max_points = info["dims"], info["max_points"]
    with_length = task.name == "tsp"
    outputs = ("order", "size") + (("tour_length",) if with_length else ())

    def decode(points, count):
        order, size = greedy_in_graph(model, points, count, dims, guard)
        result = {"order": order, "size": size}
        if with_length:
            result["tour_length"] = tour_length(points, order, size)
        return result

    def examples(inputs):  # the test split's encoded instances back to points and counts
        features = np.asarray(inputs[0])
        return [features[:, 1:, :dims].astype(np.float32), features[:, 1:, dims].sum(axis=1).astype(np.int32)]

    def reference(points, count):
        instances = [p[:n] for p, n in zip(points, count)]
        answers, _ = greedy(model, encode_points(instances, max_points + 1, dims), max_points + 1)
        order = np.full((len(answers), max_points), -1, np.int32)
        for row, answer in zip(order, answers):
            row[: len(answer)] = answer
        result = {"order": order, "size": np.array([len(a) for a in answers], np.int32)}
        if with_length:
            result["tour_length"] = np.array([problems.tour_length(p, a) for p, a in zip(instances, answers)], np.float32)
        return result

    signature = [tf.TensorSpec((None, max_points, dims), tf.float32, name="points"),
                 tf.TensorSpec((None,), tf.int32, name="count")]
    return Endpoint("decode", decode, signature, examples, reference, tflite_outputs=outputs)


__all__ = ["decode_endpoint", "encode", "greedy_in_graph", "tour_length"]

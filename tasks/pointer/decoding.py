"""Decoding a pointer network one step at a time: greedy, and beam search.

The model is causal in `previous` (the decoder LSTM reads left to right), so step i's distribution
depends only on the choices before it: each decoding step runs the whole model on the prefix decoded so
far, padded to a fixed length (a fixed shape means one compiled function for every step), and reads
row i. The model's own masking keeps every hypothesis valid; decoding adds no rule of its own.

Position 0 is the stop symbol: an answer is the positions chosen before it, minus one (0-based points).
"""

from __future__ import annotations

import numpy as np

from keras_recurrent.tasks.beam import extend


def _step_probabilities(model, features, previous, step, batch_size):
    # predict_on_batch, a chunk at a time: `predict` builds a dataset and an epoch iterator on every call,
    # which cost more than the step itself here (a decoding calls it once a step).
    return np.concatenate([np.asarray(model.predict_on_batch([features[i: i + batch_size], previous[i: i + batch_size]]))[:, step]
                           for i in range(0, len(features), batch_size)])


def greedy(model, features: np.ndarray, steps: int, batch_size: int = 512):
    """(answers, probabilities): answers a list of 0-based index arrays; probabilities (batch, steps,
    positions), the distribution each step chose from (the attention of the decoded answer)."""
    count = len(features)
    previous = np.zeros((count, steps), np.int32)
    chosen = np.zeros((count, steps), np.int32)
    rows = []
    for step in range(steps):
        probabilities = _step_probabilities(model, features, previous, step, batch_size)
        rows.append(probabilities)
        chosen[:, step] = probabilities.argmax(-1)
        if step + 1 < steps:
            previous[:, step + 1] = chosen[:, step]
        if (chosen[:, : step + 1] == 0).any(-1).all():
            break
    probabilities = np.zeros((count, steps, features.shape[1]), np.float32)
    probabilities[:, : len(rows)] = np.stack(rows, 1)
    return [_answer(row) for row in chosen], probabilities


def beam_search(model, features: np.ndarray, steps: int, width: int, batch_size: int = 512, choose=None):
    """Beam search of `width` hypotheses per instance; returns a list of 0-based index arrays.

    Each step extends every live hypothesis by every allowed position and keeps the `width` most probable
    (log-probabilities summed); a hypothesis that chose the stop position is complete and carried along
    unchanged. At the end the most probable complete hypothesis wins, or, with `choose(i, answers)`,
    whichever of instance i's complete hypotheses it picks (TSP picks the shortest tour: the objective is
    known, as in the paper's search over valid tours).
    """
    count, positions = features.shape[:2]
    tiled = np.repeat(features, width, axis=0)
    previous = np.zeros((count, width, steps), np.int32)
    chosen = np.zeros((count, width, steps), np.int32)
    score = np.full((count, width), -np.inf)
    score[:, 0] = 0.0  # one live hypothesis at the start, so the first step does not fill the beam with copies
    done = np.zeros((count, width), bool)
    rows = np.arange(count)[:, None]
    for step in range(steps):
        probabilities = _step_probabilities(model, tiled, previous.reshape(count * width, steps), step, batch_size)
        with np.errstate(divide="ignore"):
            log_p = np.log(probabilities.reshape(count, width, positions).astype(np.float64))
        score, source, position = extend(score, log_p, done, finished_token=0)  # a finished answer only "stops" again
        previous, chosen, done = previous[rows, source], chosen[rows, source], done[rows, source]
        chosen[..., step] = position
        if step + 1 < steps:
            previous[..., step + 1] = position
        done = done | (position == 0)
        if done[np.isfinite(score)].all():
            break
    answers = []
    for i in range(count):
        complete = [k for k in range(width) if np.isfinite(score[i, k]) and done[i, k]] or [int(np.argmax(score[i]))]
        candidates = [_answer(chosen[i, k]) for k in complete]
        answers.append(candidates[choose(i, candidates)] if choose is not None else candidates[0])
    return answers


def _answer(row: np.ndarray) -> np.ndarray:
    stops = np.flatnonzero(row == 0)
    end = stops[0] if len(stops) else len(row)
    return row[:end].astype(int) - 1


__all__ = ["beam_search", "greedy"]

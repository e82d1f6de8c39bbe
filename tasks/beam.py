"""One step of beam search, shared by the decoders that search (the pointer networks, captioning).

Each instance keeps `width` hypotheses with their summed log-probabilities; a step extends every hypothesis
by every token and keeps the `width` best. A hypothesis already complete may only take `finished_token` (the
stop position, or padding after <end>), at no cost, so it is carried along unchanged and competes as it is.
"""

from __future__ import annotations

import numpy as np


def extend(score: np.ndarray, log_p: np.ndarray, done: np.ndarray, finished_token: int):
    """score (n, width), log_p (n, width, tokens), done (n, width) -> (new score, source hypothesis, token),
    each (n, width): hypothesis k of the next step is hypothesis `source[:, k]` extended by `token[:, k]`.

    Ties keep the earlier hypothesis and the lower token (a stable sort): the same inputs, the same beams.
    """
    n, width, tokens = log_p.shape
    finished = np.full(tokens, -np.inf)
    finished[finished_token] = 0.0
    log_p = np.where(done[..., None], finished, log_p)
    total = (score[..., None] + log_p).reshape(n, width * tokens)
    best = np.argsort(-total, axis=-1, kind="stable")[:, :width]
    return np.take_along_axis(total, best, -1), best // tokens, best % tokens


__all__ = ["extend"]

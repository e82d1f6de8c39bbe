"""The three problems of the pointer-network paper: instances, exact answers, and the scores of an answer.

Every answer is a sequence of 0-based point indices:

- sort: the indices of n numbers in [0, 1) in increasing order of value (`numpy.argsort`);
- convex hull: the hull's vertices counter-clockwise, starting from the lowest index (Andrew's
  monotone chain, then rotated);
- TSP: a closed tour starting at city 0, in the direction whose second city has the lower index of
  the two neighbours of city 0 (so each tour has one spelling); optimal by Held-Karp dynamic programming
  (Held & Karp 1962) up to `EXACT_TSP_LIMIT` cities, vectorised over many instances at once. Beyond that
  the best 2-opt tour stands in as the reference, and the results say so.

Nothing here knows Keras; `tasks/pointer/task.py` turns instances into model inputs.
"""

from __future__ import annotations

import numpy as np

EXACT_TSP_LIMIT = 10  # Held-Karp is O(2^n n^2); at 10 cities it solves thousands of instances a second


# -- sort ----------------------------------------------------------------------------------------------
def sort_order(values: np.ndarray) -> np.ndarray:
    """(batch, n, 1) values -> (batch, n) indices in increasing order of value."""
    return np.argsort(values[..., 0], axis=-1, kind="stable")


# -- convex hull ---------------------------------------------------------------------------------------
def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: np.ndarray) -> np.ndarray:
    """(n, 2) points -> indices of the hull's vertices, counter-clockwise from the lowest index.

    Andrew's monotone chain: sort by (x, y), build the lower and upper chains keeping only left turns
    (collinear points are dropped, so every vertex is a corner).
    """
    order = sorted(range(len(points)), key=lambda i: (points[i, 0], points[i, 1]))
    if len(order) < 3:
        return np.asarray(order)

    def chain(indices):
        kept: list[int] = []
        for i in indices:
            while len(kept) >= 2 and _cross(points[kept[-2]], points[kept[-1]], points[i]) <= 0:
                kept.pop()
            kept.append(i)
        return kept

    hull = chain(order)[:-1] + chain(order[::-1])[:-1]  # counter-clockwise, from the leftmost point
    start = int(np.argmin(hull))
    return np.asarray(hull[start:] + hull[:start])


def polygon_area(points: np.ndarray, order) -> float:
    """Area enclosed by the points visited in `order` (shoelace formula; absolute value)."""
    if len(order) < 3:
        return 0.0
    p = points[np.asarray(order)]
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


# -- travelling salesman -------------------------------------------------------------------------------
def distances(points: np.ndarray) -> np.ndarray:
    """(..., n, 2) -> (..., n, n) Euclidean distances."""
    diff = points[..., :, None, :] - points[..., None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def tour_length(points: np.ndarray, tour) -> float:
    """Length of the closed tour visiting `points[tour]` in order and returning to the start."""
    p = points[np.asarray(tour)]
    return float(np.sqrt(((p - np.roll(p, -1, axis=0)) ** 2).sum(-1)).sum())


def canonical_tour(tour) -> np.ndarray:
    """The one spelling of a closed tour: rotated to start at city 0, then the direction whose second
    city has the lower index (a tour and its reverse have the same length)."""
    tour = np.asarray(tour)
    start = int(np.flatnonzero(tour == 0)[0])
    tour = np.concatenate([tour[start:], tour[:start]])
    if len(tour) > 2 and tour[1] > tour[-1]:
        tour = np.concatenate([tour[:1], tour[1:][::-1]])
    return tour


def held_karp(points: np.ndarray) -> np.ndarray:
    """Optimal tours of a batch of instances of the same size: (batch, n, 2) -> (batch, n) canonical tours.

    cost[S, j] is the shortest path that leaves city 0, visits exactly the cities of the set S (cities
    1..n-1 as bits) and ends at j in S. Sets are filled in order of size; for each size and end city the
    minimum over the previous city runs over every instance and every set of that size at once.
    """
    batch, n = points.shape[:2]
    if n <= 3:
        return np.stack([canonical_tour(np.arange(n)) for _ in range(batch)]) if batch else np.zeros((0, n), int)
    d = distances(points.astype(np.float64))
    m = n - 1  # cities other than 0, city k + 1 is bit k
    full = (1 << m) - 1
    cost = np.full((batch, 1 << m, m), np.inf)
    parent = np.zeros((batch, 1 << m, m), np.int8)
    for k in range(m):
        cost[:, 1 << k, k] = d[:, 0, k + 1]
    sets = np.arange(1 << m)
    sizes = np.array([bin(s).count("1") for s in sets])
    for size in range(2, m + 1):
        of_size = sets[sizes == size]
        for j in range(m):
            ending = of_size[(of_size >> j) & 1 == 1]
            before = ending ^ (1 << j)
            # (batch, sets, previous city): cost of the set without j ending at k, plus the step k -> j.
            candidates = cost[:, before, :] + d[:, 1:, j + 1][:, None, :]
            best = np.argmin(candidates, axis=-1)
            cost[:, ending, j] = np.take_along_axis(candidates, best[..., None], -1)[..., 0]
            parent[:, ending, j] = best
    closing = cost[:, full, :] + d[:, 1:, 0]
    last = np.argmin(closing, axis=-1)
    tours = np.zeros((batch, n), int)
    rows = np.arange(batch)
    current, visited = last, np.full(batch, full)
    for position in range(n - 1, 0, -1):
        tours[:, position] = current + 1
        previous = parent[rows, visited, current].astype(int)
        visited = visited ^ (1 << current)
        current = previous
    return np.stack([canonical_tour(t) for t in tours])


def nearest_neighbour_tour(points: np.ndarray) -> np.ndarray:
    """(n, 2) -> the greedy tour from city 0: always on to the closest unvisited city."""
    d = distances(points)
    n = len(points)
    tour, visited = [0], np.zeros(n, bool)
    visited[0] = True
    for _ in range(n - 1):
        row = np.where(visited, np.inf, d[tour[-1]])
        tour.append(int(np.argmin(row)))
        visited[tour[-1]] = True
    return canonical_tour(tour)


def two_opt(points: np.ndarray, tour=None) -> np.ndarray:
    """Improve a tour (default: the nearest-neighbour tour) by 2-opt moves until none shortens it.

    A move reverses tour[i..j]: it replaces edges (a, b) and (c, e) with (a, c) and (b, e). Each pass
    scores every move at once and applies the best.
    """
    d = distances(points)
    tour = np.asarray(nearest_neighbour_tour(points) if tour is None else tour).copy()
    n = len(tour)
    if n < 4:
        return canonical_tour(tour)
    i, j = np.triu_indices(n, k=1)
    keep = (i >= 1) & (j <= n - 1) & (j - i < n - 2)
    i, j = i[keep], j[keep]
    while True:
        a, b, c, e = tour[i - 1], tour[i], tour[j], tour[(j + 1) % n]
        gain = d[a, c] + d[b, e] - d[a, b] - d[c, e]
        best = int(np.argmin(gain))
        if gain[best] >= -1e-12:
            return canonical_tour(tour)
        tour[i[best]:j[best] + 1] = tour[i[best]:j[best] + 1][::-1].copy()


def is_permutation(order, n: int) -> bool:
    return len(order) == n and sorted(int(i) for i in order) == list(range(n))


__all__ = [
    "EXACT_TSP_LIMIT", "canonical_tour", "convex_hull", "distances", "held_karp", "is_permutation",
    "nearest_neighbour_tour", "polygon_area", "sort_order", "tour_length", "two_opt",
]

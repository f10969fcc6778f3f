"""Agglomerative clustering of speaker embeddings (average linkage, cosine distance), in
numpy, with the number of speakers found from the merge tree or given.

Average linkage never merges at a smaller distance than an earlier merge, so one pass
that merges down to a single cluster gives every possible cut. A given count cuts it
there. The automatic count walks the tree from the top and splits a cluster into its
two halves when they are two voices: further apart than DISTANCE_THRESHOLD, or further
apart than CLOSE_DISTANCE and TIGHTNESS times the spread inside the wider half (two
steady voices can be closer to each other than the halves of one lively reader are).
A half of fewer than MIN_SPEAKER_POINTS partials is not a voice of its own: the walk
goes on in the other half, and its partials go to the nearest voice found. Each merge
costs O(n) numpy work: every row keeps its nearest neighbour, and only the rows that
pointed at the merged pair look again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISTANCE_THRESHOLD = 0.42
"""Cosine distance between clusters above which they are always different speakers.
Set on the built test conversations (bench/conversations.py, docs/performance.md)."""
CLOSE_DISTANCE = 0.30
"""Clusters nearer than this are one speaker, however tight they are."""
TIGHTNESS = 1.6
"""Between CLOSE_DISTANCE and DISTANCE_THRESHOLD, two clusters are two speakers when
their distance is this many times the mean distance between partials of the wider one."""
MIN_SPEAKER_POINTS = 4
"""Partials (about 3 s of speech) a cluster needs to count as a speaker, or FAR_POINTS
when it is further than DISTANCE_THRESHOLD from the rest."""
FAR_POINTS = 2
MAX_POINTS = 1500
"""More embeddings than this are clustered on a regular subset, then all assigned to the
nearest centroid: the distance matrix stays under 20 MB."""


@dataclass(frozen=True)
class SpeakerCount:
    """How many speakers to find: exactly, or automatically within bounds."""

    exact: int | None = None
    minimum: int | None = None
    maximum: int | None = None

    def clamp(self, found: int, points: int) -> int:
        if self.exact is not None:
            return max(1, min(self.exact, points))
        low = self.minimum or 1
        high = self.maximum or points
        return max(1, min(max(found, low), high, points))


def merge_sequence(embeddings: np.ndarray) -> list[tuple[int, int, float]]:
    """Average-linkage merges (kept index, absorbed index, distance), until one cluster."""
    n = embeddings.shape[0]
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - (unit @ unit.T).astype(np.float64)
    np.fill_diagonal(distance, np.inf)
    size = np.ones(n)
    active = np.ones(n, dtype=bool)
    nearest = distance.argmin(axis=1)
    nearest_distance = distance[np.arange(n), nearest]
    merges: list[tuple[int, int, float]] = []
    for _ in range(n - 1):
        keep = int(np.argmin(nearest_distance))
        gone = int(nearest[keep])
        merges.append((keep, gone, float(nearest_distance[keep])))
        merged = (size[keep] * distance[keep] + size[gone] * distance[gone]) / (
            size[keep] + size[gone]
        )
        distance[keep] = merged
        distance[:, keep] = merged
        distance[keep, keep] = np.inf
        distance[gone] = np.inf
        distance[:, gone] = np.inf
        size[keep] += size[gone]
        active[gone] = False
        nearest_distance[gone] = np.inf
        # A row whose nearest was neither keep nor gone cannot get nearer: the merged
        # distance is a weighted mean of two distances it already beat.
        stale = np.flatnonzero(active & ((nearest == keep) | (nearest == gone)))
        stale = np.union1d(stale, [keep])
        if stale.size:
            rows = distance[stale]
            nearest[stale] = rows.argmin(axis=1)
            nearest_distance[stale] = rows[np.arange(stale.size), nearest[stale]]
    return merges


def cut(n: int, merges: list[tuple[int, int, float]], clusters: int) -> np.ndarray:
    """Cluster labels 0..clusters-1 after the first n - clusters merges."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for keep, gone, _ in merges[: n - clusters]:
        parent[root(gone)] = root(keep)
    roots = np.array([root(i) for i in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels.astype(int)


def cluster(
    embeddings: np.ndarray,
    count: SpeakerCount | None = None,
    threshold: float = DISTANCE_THRESHOLD,
) -> np.ndarray:
    """A cluster label per embedding (row), 0..k-1 in no particular order."""
    count = count or SpeakerCount()
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    if n > MAX_POINTS:
        step = int(np.ceil(n / MAX_POINTS))
        sample = embeddings[::step]
        labels = cluster(sample, count, threshold)
        return assign_to_centroids(embeddings, centroids(sample, labels))
    merges = merge_sequence(embeddings)
    if count.exact is None:
        labels = split_voices(embeddings, merges, threshold)
        found = int(labels.max()) + 1
        if count.clamp(found, n) == found:
            return labels
    else:
        found = n
    return cut(n, merges, count.clamp(found, n))


def split_voices(
    embeddings: np.ndarray, merges: list[tuple[int, int, float]], threshold: float
) -> np.ndarray:
    """Labels from the top-down walk of the merge tree (module docstring)."""
    n = embeddings.shape[0]
    children: dict[int, tuple[int, int]] = {}
    height = np.zeros(2 * n - 1)
    size = np.ones(2 * n - 1)
    spread = np.zeros(2 * n - 1)  # each node's sum of distances between its partials
    node_of = list(range(n))
    for step, (keep, gone, distance) in enumerate(merges):
        left, right, node = node_of[keep], node_of[gone], n + step
        children[node] = (left, right)
        height[node] = distance
        size[node] = size[left] + size[right]
        spread[node] = spread[left] + spread[right] + distance * size[left] * size[right]
        node_of[keep] = node

    def mean_spread(node: int) -> float:
        pairs = size[node] * (size[node] - 1) / 2
        return float(spread[node] / pairs) if pairs else 0.0

    voices: list[int] = []
    todo = [2 * n - 2]
    while todo:
        node = todo.pop()
        if node < n:
            voices.append(node)
            continue
        left, right = children[node]
        smaller = min(size[left], size[right])
        distance = float(height[node])
        if smaller < MIN_SPEAKER_POINTS and not (smaller >= FAR_POINTS and distance > threshold):
            todo.append(left if size[left] >= size[right] else right)
            continue
        wider = max(mean_spread(left), mean_spread(right))
        if distance > threshold or (distance > CLOSE_DISTANCE and distance > TIGHTNESS * wider):
            todo.extend((left, right))
        else:
            voices.append(node)
    labels = np.full(n, -1)
    for label, voice in enumerate(voices):
        labels[_leaves(voice, children, n)] = label
    strays = labels < 0
    if strays.any():
        labels[strays] = assign_to_centroids(
            embeddings[strays], centroids(embeddings[~strays], labels[~strays])
        )
    return labels


def _leaves(node: int, children: dict[int, tuple[int, int]], n: int) -> list[int]:
    leaves, todo = [], [node]
    while todo:
        top = todo.pop()
        if top < n:
            leaves.append(top)
        else:
            todo.extend(children[top])
    return leaves


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The L2-normed mean embedding of each label 0..max."""
    k = int(labels.max()) + 1 if labels.size else 0
    sums = np.zeros((k, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    normed: np.ndarray = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return normed


def assign_to_centroids(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.asarray((embeddings @ centres.T).argmax(axis=1), dtype=int)

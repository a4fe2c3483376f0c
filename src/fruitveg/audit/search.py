"""Finding the few pictures worth comparing closely, without comparing every pair.

Two indexes, both graph-based (faiss HNSW), so a query costs about log n rather than n:

- the perceptual hashes of every picture in its 8 orientations, searched by Hamming
  distance: re-encoded, resized, turned and mirrored copies lie within a few dozen bits;
- a bag of visual words of each picture's local features (features.py): its ORB
  descriptors quantised to a vocabulary learnt from the data, weighted by rarity
  (tf-idf). A crop, padding or a turn keeps most of a picture's words, so its copy stays
  among its nearest neighbours even where the hash has moved far. The mirrored
  descriptors give a second query, for mirrored copies.

`brute=True` searches exhaustively instead, to measure what the graph misses.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import faiss
import numpy as np

from fruitveg.audit.features import DESCRIPTOR_BYTES, Features
from fruitveg.audit.hashing import ORIENTATIONS

BRANCH = 32
WORDS = BRANCH * BRANCH  # vocabulary size
TRAIN_DESCRIPTORS = 64 * WORDS  # a seeded sample of every picture's descriptors
NEIGHBOURS = 3  # candidates per picture and orientation from the bag of words: at 10k
# pictures a planted copy ranked at most 3rd, and 8 found no more copies than 3 (bench)
HASH_NEIGHBOURS = 16  # nearest upright hashes looked at per picture and orientation
DIMENSIONS = 256  # the bags of words are searched in this many principal dimensions
HNSW_LINKS = 32
EF_SEARCH = 128  # the graph searches' breadth: recall against brute force rises with it.
# For the hashes, 64 lost 0.2 % and 32 lost 1 % of 120k pictures' planted pairs, for 1.4x
# and 2.7x less time (bench/hash_search.py): not worth a copy missed.


@dataclass(frozen=True)
class Candidate:
    i: int
    j: int  # i < j
    similarity: float  # cosine of the two bags of words, the higher of i as it is or mirrored


@dataclass(frozen=True)
class HashPair:
    distance: int  # bits
    turned: int  # which of the two, put in orientation `orientation`, looks like the other
    orientation: int  # 0-7, as hashing.orientation_hashes orders them


def hash_pairs(
    hashes: np.ndarray, max_distance: int, brute: bool = False
) -> dict[tuple[int, int], HashPair]:
    """Pairs (i < j) whose hashes lie within `max_distance` bits at the closest orientation.
    `hashes`: (n, 8, words) uint64 from hashing.orientation_hashes.

    The upright hashes are indexed, and every picture in each of its orientations looks
    for its nearest: a pair is found from whichever of the two is turned."""
    n = len(hashes)
    if n < 2:
        return {}
    codes = np.ascontiguousarray(hashes).view(np.uint8).reshape(n * ORIENTATIONS, -1)
    bits = codes.shape[1] * 8
    index = faiss.IndexBinaryFlat(bits) if brute else faiss.IndexBinaryHNSW(bits, HNSW_LINKS)
    if not brute:
        index.hnsw.efSearch = EF_SEARCH
    with faiss_threads(1):
        index.add(np.ascontiguousarray(codes[::ORIENTATIONS]))
    dist, idx = index.search(codes, min(n, HASH_NEIGHBOURS))
    query = np.repeat(np.arange(n * ORIENTATIONS), idx.shape[1])
    i, orientation = np.divmod(query, ORIENTATIONS)
    j, d = idx.ravel(), dist.ravel()
    keep = (j >= 0) & (j != i) & (d <= max_distance)
    first = _first_per_pair(i[keep], j[keep], d[keep])
    i, j, d, orientation = i[keep][first], j[keep][first], d[keep][first], orientation[keep][first]
    return {
        (int(min(a, b)), int(max(a, b))): HashPair(int(dd), int(a), int(o))  # a turned looks like b
        for a, b, dd, o in zip(i, j, d, orientation, strict=True)
    }


def _first_per_pair(i: np.ndarray, j: np.ndarray, score: np.ndarray) -> np.ndarray:
    """For each unordered pair among the hits (i[k], j[k]), the position of its hit with the
    lowest score, the earliest of equals: the hits are in query order."""
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((np.arange(len(i)), score, hi, lo))
    pairs = np.column_stack([lo[order], hi[order]])
    new = np.ones(len(order), bool)
    new[1:] = (pairs[1:] != pairs[:-1]).any(axis=1)
    return order[new]


class Vocabulary:
    """Visual words as a two-level tree: BRANCH coarse centres, each split into BRANCH fine
    ones, all binary (k-means of the descriptors' bits, rounded). A descriptor goes to its
    nearest coarse centre, then to that centre's nearest fine one: 2 x BRANCH Hamming
    distances instead of BRANCH^2 (the flat search took most of the audit's time)."""

    def __init__(self, descriptors: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        if len(descriptors) > TRAIN_DESCRIPTORS:
            pick = np.sort(rng.choice(len(descriptors), TRAIN_DESCRIPTORS, replace=False))
            descriptors = descriptors[pick]
        self.coarse = _centres(descriptors, seed)
        near = _nearest(descriptors, self.coarse)
        self.fine = np.stack(
            [_centres(descriptors[near == c], seed + 1 + c) for c in range(len(self.coarse))]
        )

    def words(self, descriptors: np.ndarray) -> np.ndarray:
        """The word (0 to BRANCH^2 - 1) of each descriptor."""
        coarse = _nearest(descriptors, self.coarse)
        word = np.empty(len(descriptors), np.int64)
        for c in np.unique(coarse):
            mine = coarse == c
            word[mine] = c * BRANCH + _nearest(descriptors[mine], self.fine[c])
        return word


def _centres(descriptors: np.ndarray, seed: int) -> np.ndarray:
    """BRANCH binary centres of `descriptors` (repeated where there are too few)."""
    if len(descriptors) == 0:
        return np.zeros((BRANCH, DESCRIPTOR_BYTES), np.uint8)
    if len(descriptors) < 4 * BRANCH:
        return descriptors[np.arange(BRANCH) % len(descriptors)]
    kmeans = faiss.Kmeans(
        8 * DESCRIPTOR_BYTES, BRANCH, niter=12, seed=seed, min_points_per_centroid=1
    )
    with faiss_threads(1):  # small: threads cost more than they save, and cost determinism
        kmeans.train(np.unpackbits(descriptors, axis=1).astype(np.float32))
    return np.packbits(kmeans.centroids > 0.5, axis=1)


def _nearest(descriptors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of `centres` to each descriptor, by Hamming distance (an
    exhaustive search: the same answer on any number of threads)."""
    index = faiss.IndexBinaryFlat(8 * DESCRIPTOR_BYTES)
    index.add(np.ascontiguousarray(centres))
    return index.search(np.ascontiguousarray(descriptors), 1)[1][:, 0].astype(np.int64)


def bags(features: list[Features], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The tf-idf bags of words of every picture as it is and mirrored: two (n, WORDS)
    float32 arrays of unit rows (zero rows for pictures without features)."""
    n = len(features)
    counts = np.zeros((2, n, WORDS), np.float32)
    owner = np.repeat(np.arange(n), [len(f.desc) for f in features])
    upright = np.concatenate(
        [f.desc for f in features] + [np.zeros((0, DESCRIPTOR_BYTES), np.uint8)]
    )
    if len(upright):
        vocabulary = Vocabulary(upright, seed)
        for m, mirror in enumerate((False, True)):
            every = upright if not mirror else np.concatenate([f.mirrored for f in features])
            np.add.at(counts[m], (owner, vocabulary.words(every)), 1.0)
    seen_in = (counts[0] > 0).sum(axis=0)
    idf = np.log((n + 1) / (seen_in + 1)).astype(np.float32)
    out = counts * idf
    norms = np.linalg.norm(out, axis=2, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out[0], out[1]


def candidates(
    upright: np.ndarray, mirrored: np.ndarray, min_similarity: float, brute: bool = False
) -> list[Candidate]:
    """Each picture's nearest neighbours by bag of words, as it is and mirrored, above
    `min_similarity`; each unordered pair once.

    The bags are first projected on their DIMENSIONS principal axes: a query then costs a
    quarter, and copies ranked as high as in the full space."""
    n, dim = upright.shape
    if n < 2:
        return []
    if n > DIMENSIONS:
        projection = faiss.PCAMatrix(dim, DIMENSIONS)
        with faiss_threads(1):
            projection.train(upright)
        upright, mirrored = _unit(projection.apply(upright)), _unit(projection.apply(mirrored))
    if brute:
        index = faiss.IndexFlatIP(upright.shape[1])
    else:
        index = faiss.IndexHNSWFlat(upright.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = EF_SEARCH
    with faiss_threads(1):  # one thread builds the same graph every time: DVC needs the same output
        index.add(upright)
    k = min(n, NEIGHBOURS + 1)
    found = [index.search(queries, k) for queries in (upright, mirrored)]
    sims = np.concatenate([s for s, _ in found]).ravel()
    j = np.concatenate([idx for _, idx in found]).ravel()
    i = np.tile(np.repeat(np.arange(n), k), 2)
    keep = (j >= 0) & (j != i) & (sims >= min_similarity)
    i, j, sims = i[keep], j[keep], sims[keep]
    first = _first_per_pair(i, j, -sims)  # the higher similarity of the pair's two queries
    return sorted(
        (
            Candidate(int(min(a, b)), int(max(a, b)), float(s))
            for a, b, s in zip(i[first], j[first], sims[first], strict=True)
        ),
        key=lambda c: (c.i, c.j),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """faiss' OpenMP threads, for a block: its parallel build is not deterministic."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)

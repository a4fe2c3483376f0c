"""Which pictures are copies of which, and the evidence for each link.

Three kinds of evidence, from cheapest to strongest framing change:

- exact: the same bytes (SHA-256);
- hash: perceptual hashes within `near_duplicate_distance` bits at the closest of 8
  orientations (re-encoded, resized, turned, mirrored, EXIF-rotated copies), and the
  pictures, so aligned, agree (matching.py);
- match: local features agree on one similarity transform, with enough inliers, and the
  aligned pictures correlate (matching.py): crops, padding, mirror plus crop, small
  turns, recolouring, a watermark or a small edit.

Candidates for the last two come from indexes (search.py), so the work grows about as
n log n, not as the n^2 pairs.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fruitveg.audit import search
from fruitveg.audit.features import Features
from fruitveg.audit.matching import Match, match, oriented
from fruitveg.audit.settings import AuditSettings
from fruitveg.data.parallel import pmap

EXACT, HASH, MATCH = "exact", "hash", "match"
STRENGTH = {EXACT: 0, HASH: 1, MATCH: 2}  # the first is the most certain


@dataclass(frozen=True)
class Link:
    i: int
    j: int
    how: str  # EXACT | HASH | MATCH
    evidence: str  # what a reviewer reads: "identical bytes", "hash 12 bits", "48 inliers..."


@dataclass(frozen=True)
class Compared:
    """A pair looked at closely: found by the hashes or by the bags of words."""

    i: int
    j: int
    found_by: str  # HASH | MATCH
    match: Match | None  # by keypoints; None: no geometry fitted
    aligned: Match | None = None  # a hash pair put in the orientation its hashes found
    hash_bits: int | None = None


def accepted(c: Compared, settings: AuditSettings) -> bool:
    """Whether a pair is a copy. A geometric match needs colours that follow one another
    and most of the smaller picture shared (a repeated pattern, stripes or florets, lines
    up elsewhere), and enough inliers with nearly all the detail agreeing and little left
    once the colours are mapped (smooth look-alikes on white line up their outlines), or
    many inliers with some agreeing (an edit can cover much of a plain picture's detail;
    chance gives no such geometry). Hashes within the distance need the aligned pictures to agree as
    well: different pictures can share their coarse look (a photo's mirror-like quarters,
    one product shot and the next)."""
    s, m = settings, c.match
    if (
        m is not None
        and m.colour >= s.match_colours
        and m.overlap >= s.match_overlap
        and (
            (
                m.inliers >= s.match_inliers
                and m.agreement >= s.match_agreement
                and m.residual <= s.match_residual
            )
            or (m.inliers >= s.sure_inliers and m.agreement >= s.sure_agreement)
        )
    ):
        return True
    return c.aligned is not None and c.aligned.agreement >= s.hash_agreement


def evidence(c: Compared) -> str:
    if c.found_by == HASH and c.aligned is not None:
        agreement = max(c.aligned.agreement, c.match.agreement if c.match else 0.0)
        return f"hash {c.hash_bits} bits apart, {agreement:.0%} of the detail agrees"
    assert c.match is not None
    return c.match.describe()


def find(
    sha256: Sequence[str],
    hashes: np.ndarray,
    features: Sequence[Features],
    settings: AuditSettings,
    brute: bool = False,
    stats: dict[str, float] | None = None,
    looked_at: list[Compared] | None = None,
) -> list[Link]:
    """Every link between pictures, by the most certain evidence that holds for the pair.
    Row k of `hashes` and `features` is picture k; `brute` searches exhaustively. `stats`
    gets each step's seconds and the number of pairs compared; `looked_at` every pair
    compared closely, accepted or not (for benchmarks)."""
    stats = {} if stats is None else stats
    started = time.perf_counter()
    links: dict[tuple[int, int], Link] = {}
    first: dict[str, int] = {}
    for k, sha in enumerate(sha256):
        if (i := first.setdefault(sha, k)) != k:
            links[(i, k)] = Link(i, k, EXACT, "identical bytes")
    hashed = {
        key: pair
        for key, pair in search.hash_pairs(hashes, settings.near_duplicate_distance, brute).items()
        if key not in links
    }
    stats["hash_s"] = time.perf_counter() - started
    started = time.perf_counter()
    upright, mirrored = search.bags(list(features), settings.seed)
    stats["bags_s"] = time.perf_counter() - started
    started = time.perf_counter()
    near = search.candidates(upright, mirrored, settings.min_similarity, brute)
    near = [c for c in near if (c.i, c.j) not in links and (c.i, c.j) not in hashed]
    stats["candidates_s"] = time.perf_counter() - started
    started = time.perf_counter()
    jobs = [
        (pair.turned, i + j - pair.turned, pair.orientation) for (i, j), pair in hashed.items()
    ] + [(c.i, c.j, None) for c in near]
    global _FEATURES
    _FEATURES = features  # read by the forked workers, not pickled for each pair
    try:
        found = pmap(_compare, jobs, label="audit: pairs compared")
    finally:
        _FEATURES = ()
    stats["compare_s"] = time.perf_counter() - started
    stats["compared"] = len(jobs)
    for (a, b, orientation), (m, aligned) in zip(jobs, found, strict=True):
        i, j = min(a, b), max(a, b)
        bits = hashed[(i, j)].distance if orientation is not None else None
        c = Compared(i, j, MATCH if orientation is None else HASH, m, aligned, bits)
        if looked_at is not None:
            looked_at.append(c)
        if accepted(c, settings):
            links[(i, j)] = Link(i, j, c.found_by, evidence(c))
    return sorted(links.values(), key=lambda x: (x.i, x.j))


_FEATURES: Sequence[Features] = ()


def _compare(job: tuple[int, int, int | None]) -> tuple[Match | None, Match | None]:
    """The pair matched by keypoints, both ways round (which of a pair's bags of words, as
    it is or mirrored, scored higher tells little where a picture looks alike mirrored);
    and a hash pair put in the orientation its hashes found, which needs no keypoints."""
    a, b, orientation = job
    aligned = None if orientation is None else oriented(_FEATURES[a], _FEATURES[b], orientation)
    return match(_FEATURES[a], _FEATURES[b]), aligned

"""The audit stage's settings: params.yaml's `audit:` block and `seed`, read once."""

from dataclasses import dataclass
from typing import Any

from fruitveg.audit.matching import MIN_INLIERS
from fruitveg.core import params as P


@dataclass(frozen=True)
class AuditSettings:
    near_duplicate_distance: int  # bits between hashes (hashing.py) at their closest, >= 0
    seed: int  # picks the sample grid's images and the vocabulary's training sample
    min_similarity: float = 0.15  # bags of words (search.py) compared closely above this
    hash_agreement: float = 0.6  # hashes within the distance, and this much agreement
    match_colours: float = 0.8  # a geometric match (matching.py) with colours this close,
    match_overlap: float = 0.8  # this much of the smaller picture shared,
    match_inliers: int = 10  # and this many inliers
    match_agreement: float = 0.9  # with this much agreement
    match_residual: float = 0.065  # and at most this residual is a copy;
    sure_inliers: int = 30  # so is one with this many inliers
    sure_agreement: float = 0.25  # and this much agreement


def audit_settings(params: dict[str, Any]) -> AuditSettings:
    def share(key: str) -> float:
        return P.finite(params, f"audit.{key}", 0.0, 1.0, low_ok=True)

    return AuditSettings(
        near_duplicate_distance=P.whole(params, "audit.near_duplicate_distance", minimum=0),
        seed=P.seed(params),
        min_similarity=share("min_similarity"),
        hash_agreement=share("hash_agreement"),
        match_inliers=P.whole(params, "audit.match_inliers", minimum=MIN_INLIERS),
        match_agreement=share("match_agreement"),
        match_residual=share("match_residual"),
        match_colours=share("match_colours"),
        match_overlap=share("match_overlap"),
        sure_inliers=P.whole(params, "audit.sure_inliers", minimum=MIN_INLIERS),
        sure_agreement=share("sure_agreement"),
    )

"""The audit stage's settings: params.yaml's `audit:` block and `seed`, read once."""

from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P


@dataclass(frozen=True)
class AuditSettings:
    near_duplicate_distance: int  # bits between hashes (hashing.py) at their closest, >= 0
    seed: int  # picks the sample grid's images


def audit_settings(params: dict[str, Any]) -> AuditSettings:
    return AuditSettings(
        near_duplicate_distance=P.whole(params, "audit.near_duplicate_distance", minimum=0),
        seed=P.seed(params),
    )

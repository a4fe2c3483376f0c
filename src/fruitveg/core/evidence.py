"""The audit's copies by the evidence that joined them, in words, as the audit stage and
the comparison report say it: "3 exact, 10 by hash, 6 by matching".

The audit report's `copies_by_evidence` counts each copy once, by the surest evidence
that joined it to its group (fruitveg.audit.links: exact bytes, perceptual hash, geometric
match). Here, not in the audit package, because the report stage does not depend on it.
"""

from collections.abc import Mapping
from typing import Any

# The report's keys in order, surest first, as the sentence names them.
WORDS = {"exact": "exact", "hash": "by hash", "match": "by matching"}


def by_evidence(counts: Any) -> str | None:
    """'3 exact, 10 by hash, 6 by matching'; None unless `counts` holds a whole number for
    every kind (a report of an older audit has no such counts)."""
    if not isinstance(counts, Mapping):
        return None
    n = [counts.get(k) for k in WORDS]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in n):
        return None
    return ", ".join(f"{x} {word}" for x, word in zip(n, WORDS.values(), strict=True))

"""The split stage's settings: params.yaml's `data.split`, `data.split_fractions` and
`seed`, read once. The fractions are read and checked only when the pipeline resplits."""

import math
from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.paths import SPLITS

MODES = ("given", "resplit")
# A split of less than this would need more than 1000 images of each class for one test
# image; 1e-320 once overflowed counting them.
MIN_FRACTION = 0.001


@dataclass(frozen=True)
class SplitSettings:
    mode: str  # given: the dataset's own splits | resplit: made here from duplicate groups
    seed: int
    fractions: tuple[float, ...] | None = None  # resplit: share of images per SPLITS entry

    def __post_init__(self) -> None:
        if (self.mode == "resplit") != (self.fractions is not None):
            raise ValueError("SplitSettings: fractions are given exactly when resplitting")


def split_settings(params: dict[str, Any]) -> SplitSettings:
    mode = P.choice(params, "data.split", MODES)
    if mode == "given":
        return SplitSettings(mode, P.seed(params))
    given = P.get(params, "data.split_fractions")
    unknown = sorted(map(str, set(given) - set(SPLITS))) if isinstance(given, dict) else []
    if unknown:
        raise P.ParamError(
            f"params.yaml: 'data.split_fractions' has unknown key(s) {', '.join(unknown)}: "
            f"give exactly {', '.join(SPLITS)}"
        )
    fractions = tuple(
        P.finite(params, f"data.split_fractions.{s}", MIN_FRACTION, 1.0, low_ok=True)
        for s in SPLITS
    )
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        shown = " + ".join(f"{s} {f:g}" for s, f in zip(SPLITS, fractions, strict=True))
        raise P.ParamError(f"params.yaml: 'data.split_fractions' must add up to 1, got {shown}")
    return SplitSettings(mode, P.seed(params), fractions)

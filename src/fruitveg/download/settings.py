"""The download stage's settings: params.yaml's `data:` block (and `seed`), read once.

Only the keys the chosen source needs are read and checked, so a kaggle run does not
depend on the synthetic counts and the other way round.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.paths import SPLITS
from fruitveg.download.synthetic import MAX_DIFFICULTY, TRAITS

SOURCES = ("synthetic", "kaggle", "local")


@dataclass(frozen=True)
class SyntheticSettings:
    """The generated stand-in dataset: images per class and split, leaks, its seed and how
    hard its pictures are."""

    train: int
    validation: int
    test: int
    leaks: int  # test pictures also filed under train, as in the public dataset
    seed: int
    difficulty: float = 0.0  # 0 (the default's data) to synthetic.MAX_DIFFICULTY
    traits: tuple[str, ...] = TRAITS  # those the difficulty turns up
    fruit_cue: float = 0.0  # 0 (none) to 1: how much a highlight tells fruit from vegetable

    @property
    def counts(self) -> dict[str, int]:
        """Images per class, by split, in the order of SPLITS."""
        return {split: getattr(self, split) for split in SPLITS}


@dataclass(frozen=True)
class DownloadSettings:
    """Where data/raw comes from; the fields of the other sources are None."""

    source: str  # one of SOURCES
    synthetic: SyntheticSettings | None = None
    kaggle_dataset: str | None = None  # "owner/slug"; fetch_kaggle checks its shape
    max_unpacked_gb: float | None = None  # kaggle: the most the archive may unpack to
    local_path: Path | None = None

    def __post_init__(self) -> None:
        given = {
            "synthetic": self.synthetic is not None,
            "kaggle": self.kaggle_dataset is not None and self.max_unpacked_gb is not None,
            "local": self.local_path is not None,
        }
        if self.source not in SOURCES or not given[self.source]:
            raise ValueError(f"DownloadSettings: source {self.source!r} without its settings")


def download_settings(params: dict[str, Any]) -> DownloadSettings:
    """Check the chosen source's keys; every error names the setting at fault."""
    source = P.choice(params, "data.source", SOURCES)
    if source == "synthetic":
        counts = {split: P.whole(params, f"data.synthetic.{split}") for split in SPLITS}
        leaks = P.whole(params, "data.synthetic.leaks", minimum=0)
        synthetic = SyntheticSettings(
            **counts,
            leaks=leaks,
            seed=P.seed(params),
            difficulty=_difficulty(params),
            traits=_traits(params),
            fruit_cue=_fruit_cue(params),
        )
        return DownloadSettings(source, synthetic=synthetic)
    if source == "kaggle":
        return DownloadSettings(
            source,
            kaggle_dataset=str(P.get(params, "data.kaggle_dataset")),
            max_unpacked_gb=P.finite(params, "data.max_unpacked_gb", 0.0),
        )
    local = P.get(params, "data.local_path")
    if not local:
        raise P.ParamError("params.yaml: 'data.local_path' must name a folder with source local")
    return DownloadSettings(source, local_path=Path(str(local)))


def _difficulty(params: dict[str, Any]) -> float:
    """data.synthetic.difficulty: absent means 0, the data as it always was."""
    key = "data.synthetic.difficulty"
    if P.optional(params, key, None) is None:
        return 0.0
    value = P.finite(params, key, 0.0, low_ok=True)
    if value > MAX_DIFFICULTY:
        raise P.ParamError(
            f"params.yaml: '{key}' must be a number from 0 to {MAX_DIFFICULTY:g}, got {value:g}"
        )
    return value


def _traits(params: dict[str, Any]) -> tuple[str, ...]:
    """data.synthetic.traits: the traits the difficulty turns up; absent means all."""
    key = "data.synthetic.traits"
    value = P.optional(params, key, None)
    if value is None:
        return TRAITS
    if not isinstance(value, list) or not value or any(t not in TRAITS for t in value):
        raise P.ParamError(
            f"params.yaml: '{key}' must be a list of some of {', '.join(TRAITS)}; got {value!r}"
        )
    return tuple(value)


def _fruit_cue(params: dict[str, Any]) -> float:
    """data.synthetic.fruit_cue: absent means 0, no highlights."""
    key = "data.synthetic.fruit_cue"
    if P.optional(params, key, None) is None:
        return 0.0
    value = P.finite(params, key, 0.0, low_ok=True)
    if value > 1:
        raise P.ParamError(f"params.yaml: '{key}' must be a number from 0 to 1, got {value:g}")
    return value

"""data.synthetic.fruit_cue: a highlight shared by the fruits, more often than by the
vegetables; 0 leaves the data as it was, and the generator's fruits are the study's."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from fruitveg.core.params import ParamError
from fruitveg.download import synthetic
from fruitveg.download.settings import download_settings
from fruitveg.download.synthetic import FRUITS, LOOKS, generate, render

from .test_download import digest

REPO = Path(__file__).resolve().parents[2]


def lifted(look: str, n: int = 16) -> list[int]:
    """Per picture, the pixels a highlight whitened: the same draws with and without one
    (the highlight has its own random stream), compared by their darkest channel."""
    counts = []
    for i in range(n):
        plain, glossy = (
            np.asarray(render(LOOKS[look], np.random.default_rng([5, 0, 2, i]), gloss=g)[0])
            for g in (0.0, 1.0)
        )
        counts.append(int((glossy.min(axis=2).astype(int) - plain.min(axis=2) > 40).sum()))
    return counts


def test_the_generators_fruits_are_the_studys() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(params["classes"]["fruit"]) == FRUITS


def test_a_highlight_whitens_a_spot_of_every_picture() -> None:
    assert min(lifted("tomato")) >= 20


def test_the_cue_tells_the_groups_apart_and_zero_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synthetic, "KAGGLE_CLASSES", ("apple", "tomato"))
    counts = {"train": 6, "validation": 1, "test": 1}
    generate(tmp_path / "none", counts, seed=1)
    generate(tmp_path / "zero", counts, seed=1, fruit_cue=0.0)
    assert digest(tmp_path / "none") == digest(tmp_path / "zero")
    generate(tmp_path / "full", counts, seed=1, fruit_cue=1.0)
    shares = {}
    for cls in ("apple", "tomato"):
        files = sorted((tmp_path / "full" / "train" / cls).iterdir())
        before = sorted((tmp_path / "none" / "train" / cls).iterdir())
        changed = [a.read_bytes() != b.read_bytes() for a, b in zip(files, before, strict=True)]
        shares[cls] = sum(changed) / len(changed)
    assert shares == {"apple": 1.0, "tomato": 0.0}  # cue 1: every fruit, no vegetable


@pytest.mark.parametrize("value", [-0.1, 1.5, "x"])
def test_a_bad_cue_names_the_setting(value: object) -> None:
    params = {"seed": 1, "data": {"source": "synthetic", "synthetic": {
        "train": 1, "validation": 1, "test": 1, "leaks": 0, "fruit_cue": value}}}  # fmt: skip
    with pytest.raises(ParamError, match="data.synthetic.fruit_cue"):
        download_settings(params)

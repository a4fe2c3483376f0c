"""Early learning speed from crafted epoch histories."""

import math

import pytest

from fruitveg.core.history import Epoch
from fruitveg.report.learning_speed import (
    first_epoch_reaching,
    learning_speed,
    markdown_lines,
    pair_speed,
)


def run(*val_accuracy: float) -> list[Epoch]:
    start, end = "2026-11-28T08:00:00+00:00", "2026-11-28T08:00:10+00:00"
    return [Epoch(n, start, end, 1.0, 0.5, 1.0, v, 1e-3) for n, v in enumerate(val_accuracy, 1)]


HISTORIES = {
    "fast": run(0.1, 0.5, 0.75, 0.8),  # pair's best 0.8: 50 % = 0.4 at epoch 2, 90 % = 0.72 at 3
    "slow": run(0.1, 0.2, 0.45, 0.6, 0.7, 0.71),  # 0.4 at epoch 3; 0.72 never
    "diverged": run(math.nan, math.nan),
}


def test_first_epoch_reaching_a_level():
    epochs = run(0.2, 0.5, 0.4, 0.6)
    assert first_epoch_reaching(epochs, 0.5) == 2  # reached exactly counts
    assert first_epoch_reaching(epochs, 0.55) == 4  # first, after a dip
    assert first_epoch_reaching(epochs, 0.61) is None
    assert first_epoch_reaching(run(math.nan, 0.3), 0.1) == 2  # NaN never reaches


def test_pair_speed_against_the_pairs_best():
    entry = pair_speed("fast", "slow", HISTORIES)
    assert entry["pair_best"] == 0.8
    fast, slow = entry["models"]
    assert fast == {"model": "fast", "epochs": 4, "best": 0.8, "reached": {"50%": 2, "90%": 3}}
    assert slow == {"model": "slow", "epochs": 6, "best": 0.71, "reached": {"50%": 3, "90%": None}}


def test_a_pair_with_nothing_learned_has_no_levels():
    entry = pair_speed("diverged", "diverged", HISTORIES)
    assert entry["pair_best"] is None
    assert entry["models"][0]["reached"] == {"50%": None, "90%": None}
    zeros = pair_speed("a", "b", {"a": run(0.0, 0.0), "b": run(0.0)})
    assert zeros["pair_best"] == 0 and zeros["models"][1]["reached"]["50%"] is None


def test_markdown_says_who_got_there_first_and_never():
    speeds = learning_speed([("fast", "slow"), ("slow", "fast")], HISTORIES)
    lines = markdown_lines(speeds)
    assert "| fast | slow | 80.00 | 2 / 3 | 3 / not in 6 | fast |" in lines
    assert "| slow | fast | 80.00 | 3 / not in 6 | 2 / 3 | fast |" in lines
    tie = markdown_lines(learning_speed([("fast", "fast")], HISTORIES))
    assert "| fast | fast | 80.00 | 2 / 3 | 2 / 3 | same epoch |" in tie
    none = markdown_lines(learning_speed([("diverged", "diverged")], HISTORIES))
    assert "| diverged | diverged | - | not in 2 / not in 2 | not in 2 / not in 2 | - |" in none


@pytest.mark.parametrize("fraction_key", ["50%", "90%"])
def test_the_best_model_always_reaches_its_own_best(fraction_key):
    entry = pair_speed("slow", "fast", HISTORIES)
    assert entry["models"][1]["reached"][fraction_key] is not None

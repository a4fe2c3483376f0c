"""Early learning speed of each paired comparison: how many epochs each model took until
its validation accuracy first reached 50 % and 90 % of the best either model of the pair
reached. The study explained its attention models' results by the block "slowing early
learning"; this checks that against our own epoch histories (fruitveg.core.history).
"""

import math
from collections.abc import Sequence
from typing import Any

from fruitveg.core.history import Epoch

FRACTIONS = (0.5, 0.9)  # of the pair's best validation accuracy


def _key(fraction: float) -> str:
    return f"{round(100 * fraction)}%"


def best_val_accuracy(epochs: Sequence[Epoch]) -> float | None:
    """The highest validation accuracy of the run; None if every epoch's is NaN."""
    scored = [e.val_accuracy for e in epochs if not math.isnan(e.val_accuracy)]
    return max(scored) if scored else None


def first_epoch_reaching(epochs: Sequence[Epoch], level: float) -> int | None:
    """The first epoch whose validation accuracy is at least `level`; None if none is."""
    return next((e.epoch for e in epochs if e.val_accuracy >= level), None)  # NaN >= x: False


def pair_speed(a: str, b: str, histories: dict[str, list[Epoch]]) -> dict[str, Any]:
    """Epochs to each fraction of the pair's best, for both models of one pair."""
    bests = [best_val_accuracy(histories[m]) for m in (a, b)]
    known = [v for v in bests if v is not None]
    pair_best = max(known) if known else None
    models = []
    for name, best in zip((a, b), bests, strict=True):
        epochs = histories[name]
        reached: dict[str, int | None] = {}
        for fraction in FRACTIONS:
            # A pair whose best is 0 (or unknown) has no level worth reaching.
            usable = pair_best is not None and pair_best > 0
            reached[_key(fraction)] = (
                first_epoch_reaching(epochs, fraction * pair_best) if usable else None
            )
        models.append({"model": name, "epochs": len(epochs), "best": best, "reached": reached})
    return {"a": a, "b": b, "pair_best": pair_best, "models": models}


def learning_speed(
    pairs: Sequence[tuple[str, str]], histories: dict[str, list[Epoch]]
) -> list[dict[str, Any]]:
    """One entry per paired comparison, in the order of the paired tests."""
    return [pair_speed(a, b, histories) for a, b in pairs]


def _reached(model: dict[str, Any], fraction: float) -> str:
    epoch = model["reached"][_key(fraction)]
    return str(epoch) if epoch is not None else f"not in {model['epochs']}"


def _faster(entry: dict[str, Any], fraction: float) -> str:
    """Which model reached the level in fewer epochs ('-': neither reached it)."""
    a, b = entry["models"]
    ea, eb = a["reached"][_key(fraction)], b["reached"][_key(fraction)]
    if ea is None and eb is None:
        return "-"
    if ea is not None and (eb is None or ea < eb):
        return a["model"]
    if eb is not None and (ea is None or eb < ea):
        return b["model"]
    return "same epoch"


def markdown_lines(speeds: list[dict[str, Any]]) -> list[str]:
    """The report's table of early learning speed, placed under the paired tests."""
    low, high = (round(100 * f) for f in FRACTIONS)
    lines = [
        "### Early learning speed of the same pairs",
        "",
        f"Epochs until validation accuracy first reached {low} % and {high} % of the best "
        "validation accuracy either model of the pair reached (from plots/history/); "
        "`not in N`: not within the N epochs trained. An epoch is one pass over the same "
        "training images for every model; learning rate and epochs are each model's own.",
        "",
        f"| model A | model B | pair's best val. accuracy % | A: epochs to {low} % / {high} % "
        f"| B: epochs to {low} % / {high} % | first to {high} % |",
        "|---|---|---:|---:|---:|---|",
    ]
    for entry in speeds:
        a, b = entry["models"]
        best = entry["pair_best"]
        lines.append(
            f"| {entry['a']} | {entry['b']} | {f'{100 * best:.2f}' if best is not None else '-'} "
            f"| {_reached(a, FRACTIONS[0])} / {_reached(a, FRACTIONS[1])} "
            f"| {_reached(b, FRACTIONS[0])} / {_reached(b, FRACTIONS[1])} "
            f"| {_faster(entry, FRACTIONS[1])} |"
        )
    return [*lines, ""]

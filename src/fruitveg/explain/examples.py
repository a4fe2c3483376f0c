"""Which test images a Grad-CAM grid shows: some the model gets right, and its mistakes
between the classes it confuses most."""

from collections import Counter
from dataclasses import dataclass

import numpy as np

PER_PAIR = 2  # mistakes shown per confused pair, so the grid covers several pairs


@dataclass(frozen=True)
class Example:
    index: int  # into the test split's files
    actual: int
    predicted: int
    confidence: float  # P(predicted)

    @property
    def right(self) -> bool:
        return self.actual == self.predicted


def confused_pairs(y: np.ndarray, pred: np.ndarray) -> list[tuple[int, int]]:
    """Unordered class pairs (low, high) by mistakes either way, most first (ties by index)."""
    counts = Counter(
        tuple(sorted((int(a), int(p)))) for a, p in zip(y, pred, strict=True) if a != p
    )
    return sorted(counts, key=lambda pair: (-counts[pair], pair))


def choose(y: np.ndarray, probs: np.ndarray, right: int, wrong: int) -> list[Example]:
    """Up to `right` correct images, the most confident first and one per class, then up to
    `wrong` mistakes: PER_PAIR per confused pair (most confident first), the most confused
    pairs first, then any left over in the same order."""
    pred = probs.argmax(axis=1)
    conf = probs[np.arange(len(y)), pred]
    by_confidence = sorted(range(len(y)), key=lambda i: (-conf[i], i))

    def example(i: int) -> Example:
        return Example(i, int(y[i]), int(pred[i]), float(conf[i]))

    chosen: list[Example] = []
    seen_classes: set[int] = set()
    for i in by_confidence:
        if len(chosen) == right:
            break
        if y[i] == pred[i] and y[i] not in seen_classes:
            seen_classes.add(int(y[i]))
            chosen.append(example(i))

    mistakes = [i for i in by_confidence if y[i] != pred[i]]
    pairs = confused_pairs(y, pred)
    rank = {pair: n for n, pair in enumerate(pairs)}

    def pair_of(i: int) -> tuple[int, int]:
        return tuple(sorted((int(y[i]), int(pred[i]))))  # type: ignore[return-value]

    taken: Counter[tuple[int, int]] = Counter()
    first, rest = [], []
    for i in sorted(mistakes, key=lambda i: rank[pair_of(i)]):  # stable: confidence within
        pair = pair_of(i)
        (first if taken[pair] < PER_PAIR else rest).append(i)
        taken[pair] += 1
    chosen += [example(i) for i in (first + rest)[:wrong]]
    return chosen

"""Which split of the layouts each raw file goes to.

`given` keeps the dataset's own splits. `resplit` pools every file and deals whole
duplicate groups (the audit's exact and near copies; every other file is a group of one)
to train, validation and test, class by class, so no picture is ever on both sides of a
split: the result is leakage-free by construction. Either way each file carries dedupe's
reason to leave it out given the splits its group landed in; after a resplit there is none.
"""

import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fruitveg.audit.duplicates import removal
from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import SPLITS
from fruitveg.data.rawdata import RawFile


class SplitError(PipelineError):
    """The data cannot be split as params.yaml asks; the message gives the counts."""


@dataclass(frozen=True)
class Assigned:
    file: RawFile
    split: str  # one of SPLITS: where the layouts put it
    group: int | None  # the audit's duplicate group; None: the file has no copy
    removed: str  # why dedupe leaves it out ('' to keep it), given its group's splits


def _with_removals(
    files: Sequence[RawFile], split_of: Mapping[str, str], groups: Mapping[str, int]
) -> list[Assigned]:
    group_splits: dict[int, set[str]] = defaultdict(set)
    for f in files:
        if f.key in groups:
            group_splits[groups[f.key]].add(split_of[f.key])
    out = []
    for f in files:
        group = groups.get(f.key)
        split = split_of[f.key]
        why = removal(split, group_splits[group]) if group is not None else ""
        out.append(Assigned(f, split, group, why))
    return out


def given(files: Sequence[RawFile], groups: Mapping[str, int]) -> list[Assigned]:
    """The dataset's own splits (rawdata.check_given has checked they are complete)."""
    return _with_removals(files, {f.key: f.split for f in files}, groups)


def _units(files: Sequence[RawFile], groups: Mapping[str, int]) -> list[list[RawFile]]:
    """Whole duplicate groups, and every other file alone, in a stable order."""
    members: dict[object, list[RawFile]] = defaultdict(list)
    for f in files:
        members[("group", groups[f.key]) if f.key in groups else ("file", f.key)].append(f)
    return sorted(members.values(), key=lambda unit: unit[0].key)


def _stratum(unit: list[RawFile]) -> str:
    """The class a group is dealt with: its most common (a picture filed under two classes
    goes with the class most of its copies carry), the first by name on a tie."""
    counts = Counter(f.cls for f in unit)
    return min(counts, key=lambda c: (-counts[c], c))


def minimum_images(fractions: Sequence[float]) -> int:
    """The fewest images of a class that give every split at least one at these fractions."""
    return max(math.ceil(1 / f - 1e-9) for f in fractions)


def _check_sizes(
    files: Sequence[RawFile],
    by_class: Mapping[str, list[list[RawFile]]],
    fractions: Sequence[float],
) -> None:
    images = Counter(f.cls for f in files)
    least = minimum_images(fractions)
    small = [
        f"'{c}': {images[c]} image{'s' * (images[c] != 1)} in "
        f"{len(by_class.get(c, []))} group{'s' * (len(by_class.get(c, [])) != 1)}"
        for c in sorted(images)
        if images[c] < least or len(by_class.get(c, [])) < len(SPLITS)
    ]
    if small:
        shown = ", ".join(f"{s} {f:g}" for s, f in zip(SPLITS, fractions, strict=True))
        more = f"; and {len(small) - 30} more" if len(small) > 30 else ""
        listed = "; ".join(small[:30]) + more
        raise SplitError(
            f"data.split: resplit: too few images for data.split_fractions ({shown}) in "
            f"{len(small)} class(es): {listed}. Each class needs at least {least} "
            f"images, in at least {len(SPLITS)} groups (exact and near copies of a picture "
            "count as one group), so that every split holds one. Add images, remove those "
            "class folders, or change the fractions."
        )


def _deal(units: list[list[RawFile]], fractions: Sequence[float], rng: random.Random) -> list[str]:
    """The split of each unit: the largest first, each to the split furthest below its
    share of the class's images, keeping one unit for each split still empty."""
    order = list(range(len(units)))
    rng.shuffle(order)  # the seed decides which of equal-sized groups go where
    order.sort(key=lambda i: -len(units[i]))  # stable: shuffled within a size
    total = sum(len(u) for u in units)
    target = {s: f * total for s, f in zip(SPLITS, fractions, strict=True)}
    count = dict.fromkeys(SPLITS, 0)
    result = [""] * len(units)
    for dealt, i in enumerate(order):
        empty = [s for s in SPLITS if count[s] == 0]
        options = empty if len(order) - dealt <= len(empty) else SPLITS
        pick = max(options, key=lambda s: target[s] - count[s])  # the first on a tie
        count[pick] += len(units[i])
        result[i] = pick
    return result


def resplit(
    files: Sequence[RawFile], groups: Mapping[str, int], fractions: Sequence[float], seed: int
) -> list[Assigned]:
    """Deal whole groups to the splits, class by class, by `seed` and `fractions`."""
    by_class: dict[str, list[list[RawFile]]] = defaultdict(list)
    for unit in _units(files, groups):
        by_class[_stratum(unit)].append(unit)
    _check_sizes(files, by_class, fractions)
    split_of: dict[str, str] = {}
    for cls, units in sorted(by_class.items()):
        # Seeded by class too: a class's split does not change when another class is added.
        rng = random.Random(f"{seed}/{cls}")
        for unit, split in zip(units, _deal(units, fractions, rng), strict=True):
            split_of.update((f.key, split) for f in unit)
    assigned = _with_removals(files, split_of, groups)
    # A picture filed under two classes goes with its group: check every class kept a place.
    held = {(a.file.cls, a.split) for a in assigned}
    for cls in sorted({f.cls for f in files}):
        for split in SPLITS:
            if (cls, split) not in held:
                raise SplitError(
                    f"data.split: resplit: class '{cls}' has no image left for {split}: its "
                    "pictures are copies of pictures of other classes (see the audit's "
                    "cross_class_groups); remove the copies filed under the wrong class"
                )
    return assigned

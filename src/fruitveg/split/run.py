"""The split step: the assignment of every raw file to a split, and its summary."""

from collections import Counter
from pathlib import Path
from typing import Any

from fruitveg.audit.duplicates import read_groups
from fruitveg.core import paths
from fruitveg.core.atomic import write_json
from fruitveg.data import rawdata
from fruitveg.split import assign, manifest
from fruitveg.split.settings import SplitSettings


def run_split(
    settings: SplitSettings,
    raw: Path = paths.RAW,
    duplicates_csv: Path = paths.AUDIT_DUPLICATES,
    assignment_path: Path = paths.SPLIT_ASSIGNMENT,
    summary_path: Path = paths.SPLIT_SUMMARY,
) -> dict[str, Any]:
    """Assign every file of `raw` to a split and write the assignment and its summary."""
    files = rawdata.scan(raw)
    groups = read_groups(duplicates_csv)
    if settings.mode == "given":
        rawdata.check_given(files, raw)
        assigned = assign.given(files, groups)
    else:
        assert settings.fractions is not None  # given with resplit
        assigned = assign.resplit(files, groups, settings.fractions, settings.seed)
    manifest.write(assignment_path, assigned)
    summary = summarize(settings, assigned)
    write_json(summary_path, summary)
    return summary


def summarize(settings: SplitSettings, assigned: list[assign.Assigned]) -> dict[str, Any]:
    per_group: dict[int, set[str]] = {}
    for a in assigned:
        if a.group is not None:
            per_group.setdefault(a.group, set()).add(a.split)
    counts: dict[str, dict[str, int]] = {s: {} for s in paths.SPLITS}
    for (split, cls), n in sorted(Counter((a.split, a.file.cls) for a in assigned).items()):
        counts[split][cls] = n
    return {
        "mode": settings.mode,
        "fractions": None
        if settings.fractions is None
        else dict(zip(paths.SPLITS, settings.fractions, strict=True)),
        "seed": settings.seed,
        "files": len(assigned),
        "duplicate_groups": len(per_group),
        # resplit: 0 by construction; given: the groups dedupe has to break up
        "groups_across_splits": sum(len(s) > 1 for s in per_group.values()),
        "dedupe_leaves_out": sum(bool(a.removed) for a in assigned),
        "counts": counts,
    }

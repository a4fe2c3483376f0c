"""Auditing the raw dataset: unreadable files, exact and near duplicates, leaks.

Every file is decoded by content; a SHA-256 of its bytes finds exact copies and a
perceptual hash in all eight orientations (hashing.py) finds the same picture
re-encoded, rescaled, slightly cropped, turned (in its pixels or by an EXIF tag) or
mirrored. Files within the Hamming distance of each other are joined into groups
(transitively). What a group means for the study:

- a test image with copies in train or validation is a leak: counting it would flatter
  every model, so dedupe drops those copies;
- a validation image with a copy in train inflates validation accuracy, which picks the
  epoch we keep, so dedupe drops it too;
- two test images of one group are not independent, as the interval and the paired test
  assume, and a test image whose copy is filed under another class has a disputed label:
  both are counted for the report.
"""

import csv
import hashlib
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from fruitveg.audit import links as L
from fruitveg.audit.features import Features, features
from fruitveg.audit.hashing import HASH_SIDE, orientation_hashes
from fruitveg.audit.settings import AuditSettings
from fruitveg.core.atomic import atomic_file
from fruitveg.core.errors import PipelineError
from fruitveg.data.images import ImageError, decode
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import RawFile

CSV_FIELDS = (
    "group", "kind", "split", "class", "file", "leaks_test", "cross_class", "removed",
    "matched_to", "how", "evidence",
)  # fmt: skip
LEAK, TRAIN_COPY = "copy of a test image", "copy of a training image"  # the `removed` column


@dataclass(frozen=True)
class Inspected:
    file: RawFile
    sha256: str
    hashes: np.ndarray | None  # (8,) uint64, one per orientation; None: unreadable
    features: Features | None
    error: str | None


@dataclass(frozen=True)
class Member:
    item: Inspected
    matched_to: str  # the key of the member it was linked to; '' for the group's first
    how: str  # links.EXACT | HASH | MATCH; '' for the first
    evidence: str


def inspect(f: RawFile) -> Inspected:
    sha = hashlib.sha256(f.path.read_bytes()).hexdigest()
    try:
        im = decode(f.path, min_side=HASH_SIDE)
    except ImageError as exc:
        return Inspected(f, sha, None, None, str(exc))
    return Inspected(f, sha, orientation_hashes(im), features(im), None)


def groups(
    items: list[Inspected],
    settings: AuditSettings,
    brute: bool = False,
    stats: dict[str, float] | None = None,
) -> list[list[Member]]:
    """Duplicate groups (two or more files), found transitively, each member with the link
    that joined it: a tree over the group from its first file, by the surest evidence."""
    readable = [x for x in items if x.hashes is not None]
    if len(readable) < 2:
        return []
    found = L.find(
        [x.sha256 for x in readable],
        np.stack([x.hashes for x in readable]),  # type: ignore[misc]
        [x.features for x in readable],  # type: ignore[misc]
        settings,
        brute,
        stats,
    )
    n = len(readable)
    by_pair = {(x.i, x.j): x for x in found} | {(x.j, x.i): x for x in found}
    # Edge weights: surer evidence is cheaper, so the tree prefers it.
    weights = [1 + L.STRENGTH[x.how] for x in found]
    rows, cols = [x.i for x in found], [x.j for x in found]
    graph = coo_array((weights + weights, (rows + cols, cols + rows)), shape=(n, n)).tocsr()
    _, label = connected_components(graph, directed=False)
    tree = minimum_spanning_tree(graph)
    out = []
    for component in np.unique(label):
        nodes = sorted(np.flatnonzero(label == component), key=lambda k: readable[k].file.key)
        if len(nodes) < 2:
            continue
        order, parent = breadth_first_order(tree, nodes[0], directed=False)
        members = [Member(readable[nodes[0]], "", "", "")]
        for k in order[1:]:
            link = by_pair[(int(parent[k]), int(k))]
            members.append(
                Member(readable[k], readable[parent[k]].file.key, link.how, link.evidence)
            )
        out.append(sorted(members, key=lambda m: m.item.file.key))
    return sorted(out, key=lambda g: g[0].item.file.key)


def removal(split: str, splits: set[str]) -> str:
    """Why dedupe leaves a file of `split` out of the layouts, given the splits its group
    is in; '' to keep it. (The split stage asks again with the splits it assigned.)"""
    if split != "test" and "test" in splits:
        return LEAK
    if split == "validation" and "train" in splits:
        return TRAIN_COPY
    return ""


def audit(
    files: list[RawFile], settings: AuditSettings, stats: dict[str, float] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report (JSON-ready) and the duplicate rows (one per file in a group); `stats`
    gets the seconds of each step and the number of pairs compared."""
    stats = {} if stats is None else stats
    started = time.perf_counter()
    items = pmap(inspect, files, label="audit: pictures read")
    stats["read_s"] = time.perf_counter() - started
    rows: list[dict[str, Any]] = []
    leaked_test: list[str] = []
    removed: Counter[str] = Counter()  # by split
    train_copies = 0
    cross_class: list[list[str]] = []
    within_test: list[list[str]] = []
    label_conflicts: list[str] = []
    exact_groups = 0
    linked_by: Counter[str] = Counter()
    dup_groups = groups(items, settings, stats=stats)
    for n, g in enumerate(dup_groups, start=1):
        splits = {m.item.file.split for m in g}
        leaks = "test" in splits and len(splits) > 1
        crosses = len({m.item.file.cls for m in g}) > 1
        kind = "exact" if len({m.item.sha256 for m in g}) == 1 else "near"
        exact_groups += kind == "exact"
        tests = [m.item.file.key for m in g if m.item.file.split == "test"]
        if crosses:
            cross_class.append([m.item.file.key for m in g])
            label_conflicts += tests
        if len(tests) > 1:
            within_test.append(tests)
        if leaks:
            leaked_test += tests
        for m in g:
            why = removal(m.item.file.split, splits)
            train_copies += why == TRAIN_COPY
            linked_by[m.how] += bool(m.how)
            if why:
                removed[m.item.file.split] += 1
            rows.append(
                {
                    "group": n,
                    "kind": kind,
                    "split": m.item.file.split,
                    "class": m.item.file.cls,
                    "file": m.item.file.key,
                    "leaks_test": leaks,
                    "cross_class": crosses,
                    "removed": why,
                    "matched_to": m.matched_to,
                    "how": m.how,
                    "evidence": m.evidence,
                }
            )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for (split, cls), n in sorted(Counter((x.file.split, x.file.cls) for x in items).items()):
        counts[split or "unsplit"][cls] = n  # a dataset without split folders
    unreadable = [{"file": x.file.key, "reason": x.error} for x in items if x.error]
    report = {
        "files": len(items),
        "unreadable_files": len(unreadable),
        "duplicate_groups": len(dup_groups),
        "exact_duplicate_groups": exact_groups,
        "files_in_duplicate_groups": len(rows),
        # each copy counted once, by the surest evidence that joined it to its group
        "copies_by_evidence": {how: linked_by[how] for how in (L.EXACT, L.HASH, L.MATCH)},
        "pairs_compared": int(stats.get("compared", 0)),  # of n(n-1)/2: the indexes' candidates
        "leaked_test_images": len(leaked_test),
        "dedupe_removes": {s: removed[s] for s in ("train", "validation")},
        "validation_copies_of_train": train_copies,
        "test_duplicate_groups": len(within_test),
        "test_label_conflicts": len(label_conflicts),
        "settings": {k: v for k, v in asdict(settings).items() if k != "seed"},
        "counts": dict(counts),
        "unreadable": unreadable,
        "leaked_test": sorted(leaked_test),
        "test_duplicates": within_test,
        "test_label_conflict_images": sorted(label_conflicts),
        "cross_class_groups": cross_class,
    }
    return report, rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_groups(path: Path) -> dict[str, int]:
    """Each file of a duplicate group, by key, with its group's number, from the audit CSV;
    files in no group are not listed."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run the audit stage first (dvc repro)") from None
    try:
        return {r["file"]: int(r["group"]) for r in rows}
    except (KeyError, TypeError, ValueError):
        columns = ", ".join(CSV_FIELDS)
        raise PipelineError(f"{path}: expected the audit's columns {columns}") from None

"""Building a training layout (binary or one label per class) from the raw dataset.

data/raw is only read. Each image is decoded once (large JPEGs at reduced scale),
converted to RGB, resized to a square and written as a JPEG under
<out>/<split>/<label>/<class>__<name>.jpg; the class prefix keeps names unique when
the binary layout pools classes that reuse the same file names.
"""

import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from fruitveg.audit.duplicates import LEAK, TRAIN_COPY
from fruitveg.data.images import ImageError
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import LayoutError, RawFile
from fruitveg.layout.pixels import layout_jpeg


@dataclass(frozen=True)
class Job:
    src: RawFile
    split: str  # in the layout
    dest: Path


def _convert(job: Job, size: int) -> str | None:
    """Write one resized image; returns the reason it could not be read, if any."""
    try:
        encoded = layout_jpeg(job.src.path, size)
    except ImageError as exc:
        return str(exc)
    job.dest.write_bytes(encoded)
    return None


def _unique(folder: Path, f: RawFile, split: str, used: set[Path]) -> Path:
    """`<class>__<stem>.jpg`, or `<class>__<its split>__<stem>.jpg` for a file a resplit
    moved from another split: the files that stay keep their names whatever joins them, and
    the names say where a moved file came from. a.png beside a.jpg keeps its full name."""
    moved = bool(f.split) and f.split != split
    prefix = f"{f.cls}__{f.split}__" if moved else f"{f.cls}__"
    names = [f"{prefix}{Path(f.name).stem}.jpg", f"{prefix}{f.name}.jpg"]
    numbered = (f"{prefix}{n}__{f.name}.jpg" for n in itertools.count(2))
    return next(folder / n for n in itertools.chain(names, numbered) if folder / n not in used)


def build(
    files: list[RawFile],
    labels: dict[str, str],
    out: Path,
    size: int,
    exclude: Mapping[str, str],
    n_workers: int | None = None,
    splits: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fill `out` with the layout; returns its summary (counts, removed, unreadable).

    `labels` maps each class to its folder label; `exclude` maps raw keys to leave out to
    the reason (a copy of a test image, or of a training image); `splits` maps each raw
    key to its split in the layout (the split stage's assignment; None: the file's own).
    """
    jobs: list[Job] = []
    used: set[Path] = set()
    removed: Counter[tuple[str, str]] = Counter()  # (reason, split)
    placed: list[tuple[RawFile, str]] = [
        (f, f.split if splits is None else splits[f.key]) for f in files
    ]
    for f, split in placed:
        if f.key in exclude:
            removed[exclude[f.key], split] += 1
            continue
        dest = _unique(out / split / labels[f.cls], f, split, used)
        used.add(dest)
        jobs.append(Job(f, split, dest))
    for folder in {j.dest.parent for j in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    errors = pmap(partial(_convert, size=size), jobs, n_workers)
    done = list(zip(jobs, errors, strict=True))
    unreadable = [{"file": j.src.key, "reason": e} for j, e in done if e]
    written = Counter((j.split, labels[j.src.cls]) for j, e in done if not e)
    counts: dict[str, dict[str, int]] = {}
    for (split, label), n in sorted(written.items()):
        counts.setdefault(split, {})[label] = n
    for split in sorted({split for _, split in placed}):
        for label in sorted(set(labels.values()) - set(counts.get(split, {}))):
            raise LayoutError(
                f"{split}/{label}: no readable image left for this label (see the audit report)"
            )
    return {
        "image_size": size,
        "images": sum(written.values()),
        "counts": counts,
        "removed_duplicates_of_test": {s: removed[LEAK, s] for s in ("train", "validation")},
        "removed_copies_of_train": removed[TRAIN_COPY, "validation"],
        "unreadable": unreadable,
    }

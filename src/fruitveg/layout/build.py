"""Building a training layout (binary or 36-class) from the raw dataset.

data/raw is only read. Each image is decoded once (large JPEGs at reduced scale),
converted to RGB, resized to a square and written as a JPEG under
<out>/<split>/<label>/<class>__<name>.jpg; the class prefix keeps names unique when
the binary layout pools classes that reuse the same file names.
"""

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
    dest: Path


def _convert(job: Job, size: int) -> str | None:
    """Write one resized image; returns the reason it could not be read, if any."""
    try:
        encoded = layout_jpeg(job.src.path, size)
    except ImageError as exc:
        return str(exc)
    job.dest.write_bytes(encoded)
    return None


def build(
    files: list[RawFile],
    labels: dict[str, str],
    out: Path,
    size: int,
    exclude: Mapping[str, str],
    n_workers: int | None = None,
) -> dict[str, Any]:
    """Fill `out` with the layout; returns its summary (counts, removed, unreadable).

    `labels` maps each class to its folder label; `exclude` maps raw keys to leave out to
    the reason (the audit's: a copy of a test image, or of a training image).
    """
    jobs: list[Job] = []
    used: set[Path] = set()
    removed: Counter[tuple[str, str]] = Counter()  # (reason, split)
    for f in files:
        if f.key in exclude:
            removed[exclude[f.key], f.split] += 1
            continue
        folder = out / f.split / labels[f.cls]
        dest = folder / f"{f.cls}__{Path(f.name).stem}.jpg"
        if dest in used:  # a.png beside a.jpg: keep the full name
            dest = folder / f"{f.cls}__{f.name}.jpg"
        used.add(dest)
        jobs.append(Job(f, dest))
    for folder in {j.dest.parent for j in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    errors = pmap(partial(_convert, size=size), jobs, n_workers)
    done = list(zip(jobs, errors, strict=True))
    unreadable = [{"file": j.src.key, "reason": e} for j, e in done if e]
    written = Counter((j.src.split, labels[j.src.cls]) for j, e in done if not e)
    counts: dict[str, dict[str, int]] = {}
    for (split, label), n in sorted(written.items()):
        counts.setdefault(split, {})[label] = n
    for split in sorted({f.split for f in files}):
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

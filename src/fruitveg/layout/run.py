"""The layout step: one task's layout of the raw dataset, written whole, and its summary."""

from pathlib import Path
from typing import Any

from fruitveg.audit.duplicates import dedupe_removals
from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.data import classes, rawdata
from fruitveg.layout.build import build
from fruitveg.layout.settings import LayoutSettings


def run_layout(
    settings: LayoutSettings,
    raw: Path = paths.RAW,
    duplicates_csv: Path = paths.AUDIT_DUPLICATES,
    out: Path | None = None,
    summary_path: Path | None = None,
) -> dict[str, Any]:
    """Build data/layouts/<task> (or `out`) from `raw`; returns the summary it also writes."""
    task = settings.task
    out = paths.layout_dir(task) if out is None else out
    summary_path = paths.layout_summary(task) if summary_path is None else summary_path
    files = rawdata.scan(raw)
    present = rawdata.classes_of(files)
    # The mapping is checked for both tasks: it is also the list of classes we expect.
    mapping = classes.binary_mapping(settings.fruit, settings.vegetable, present)
    labels = mapping if task == "binary" else {c: c for c in present}
    exclude = dedupe_removals(duplicates_csv) if settings.dedupe else {}
    with atomic_dir(out) as tmp:
        summary = build(files, labels, tmp, settings.image_size, exclude)
    summary = {"task": task, "dedupe": settings.dedupe, **summary}
    write_json(summary_path, summary)
    return summary

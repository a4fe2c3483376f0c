"""The layout step: one task's layout of the raw dataset, written whole, and its summary."""

from pathlib import Path
from typing import Any

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.core.errors import PipelineError
from fruitveg.data import classes, rawdata
from fruitveg.layout.build import build
from fruitveg.layout.settings import LayoutSettings
from fruitveg.split import manifest


def run_layout(
    settings: LayoutSettings,
    raw: Path = paths.RAW,
    assignment: Path = paths.SPLIT_ASSIGNMENT,
    out: Path | None = None,
    summary_path: Path | None = None,
) -> dict[str, Any]:
    """Build data/layouts/<task> (or `out`) from `raw`, each file in the split the split
    stage assigned; returns the summary it also writes."""
    task = settings.task
    out = paths.layout_dir(task) if out is None else out
    summary_path = paths.layout_summary(task) if summary_path is None else summary_path
    files = rawdata.scan(raw)
    placed = manifest.read(assignment)
    unplaced = [f.key for f in files if f.key not in placed]
    if unplaced:
        raise PipelineError(
            f"{assignment}: no split for {len(unplaced)} file(s) of {raw}, e.g. "
            f"{unplaced[0]}; rerun the split stage (dvc repro)"
        )
    present = rawdata.classes_of(files)
    if task == "binary":  # the multiclass task's labels are the classes found, whatever they are
        labels = classes.binary_mapping(settings.fruit, settings.vegetable, present)
    else:
        labels = {c: c for c in present}
    _check_two_labels(task, set(labels.values()), present)
    exclude = {k: p.removed for k, p in placed.items() if p.removed} if settings.dedupe else {}
    splits = {f.key: placed[f.key].split for f in files}
    with atomic_dir(out) as tmp:
        summary = build(files, labels, tmp, settings.image_size, exclude, splits=splits)
    summary = {"task": task, "dedupe": settings.dedupe, **summary}
    write_json(summary_path, summary)
    return summary


SKIPPED = "not in params.yaml tasks"


def skip_layout(task: str) -> dict[str, Any]:
    """What layout@<task> writes for a task left out of params.yaml `tasks`: an empty
    folder and a summary that says so, without reading the data (dvc.yaml lists every
    task, since no text of params.yaml may form an output path)."""
    with atomic_dir(paths.layout_dir(task)):
        pass
    summary = {"task": task, "skipped": SKIPPED}
    write_json(paths.layout_summary(task), summary)
    return summary


def _check_two_labels(task: str, labels: set[str], present: list[str]) -> None:
    """A classifier needs two labels: with one, training "succeeds" at accuracy 1.0 and
    evaluation and predict fail later. (build puts every label in every split.)"""
    if len(labels) >= 2:
        return
    where = f"{paths.layout_dir(task)}: the {task} task needs two or more labels, but"
    if task == "binary":
        raise PipelineError(
            f"{where} every class of the data ({', '.join(present)}) is a {min(labels)}: "
            "leave binary out of params.yaml 'tasks' and remove the binary models"
        )
    raise PipelineError(
        f"{where} the data holds one class only ({present[0]}): add the folders of other "
        "classes to the dataset"
    )

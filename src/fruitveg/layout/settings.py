"""The layout stage's settings: its task, params.yaml's `layout:` and `classes:`, read once."""

from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.paths import TASKS

MIN_IMAGE_SIZE = 8


def check_task(task: Any) -> str:
    """The stage's argument: one of TASKS."""
    if task not in TASKS:
        raise P.ParamError(f"layout: task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def _class_names(params: dict[str, Any], key: str) -> tuple[str, ...]:
    value = P.get(params, key)
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise P.ParamError(f"params.yaml: '{key}' must be a list of class names, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class LayoutSettings:
    task: str  # one of TASKS
    image_size: int  # pixels per side, >= MIN_IMAGE_SIZE
    dedupe: bool  # leave copies of test images, and validation copies of train images, out
    fruit: tuple[str, ...]  # the study's fruit classes ...
    vegetable: tuple[str, ...]  # ... and vegetable classes (checked against the data later)


def layout_settings(params: dict[str, Any], task: str) -> LayoutSettings:
    """Settings of layout@<task>."""
    return LayoutSettings(
        task=check_task(task),
        image_size=P.whole(params, "layout.image_size", minimum=MIN_IMAGE_SIZE),
        dedupe=P.flag(params, "layout.dedupe"),
        fruit=_class_names(params, "classes.fruit"),
        vegetable=_class_names(params, "classes.vegetable"),
    )

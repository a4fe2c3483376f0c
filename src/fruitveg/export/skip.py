"""A model whose architecture export.archs leaves out: recorded as skipped, at no cost.

Its own module, free of TensorFlow, SciPy and scikit-learn, so the stage of a skipped
model starts and ends in a fraction of a second.
"""

from typing import Any

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.export.settings import ExportSettings


def skip(settings: ExportSettings) -> dict[str, Any]:
    """Write the skipped model's outputs; returns what metrics/export holds."""
    name = settings.name
    why = f"its architecture, {settings.model.arch}, is not in params.yaml export.archs"
    with atomic_dir(paths.export_dir(name)) as out:  # a DVC output: present, even if empty
        (out / "SKIPPED").write_text(f"{name}: {why}\n")
    result = {"model": name, "task": settings.model.task, "skipped": why, "formats": []}
    write_json(paths.export_json(name), result)
    return result

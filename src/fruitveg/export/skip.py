"""A model left out of export.models: recorded as skipped, at no cost.

Its own module, free of TensorFlow, SciPy and scikit-learn, so the stage of a skipped
model starts and ends in a fraction of a second.
"""

from typing import Any

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.export.settings import ExportSettings

SKIPPED = "not in params.yaml export.models"


def skip(settings: ExportSettings) -> dict[str, Any]:
    """Write the skipped model's outputs; returns what metrics/export holds."""
    name = settings.name
    with atomic_dir(paths.export_dir(name)) as out:  # a DVC output: present, even if empty
        (out / "SKIPPED").write_text(f"{name} is {SKIPPED}\n")
    result = {"model": name, "task": settings.model.task, "skipped": SKIPPED, "formats": []}
    write_json(paths.export_json(name), result)
    return result

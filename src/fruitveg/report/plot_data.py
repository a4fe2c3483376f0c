"""Long-format tables of every model for `dvc plots show`: one row per model and point.

dvc.yaml's top-level plots draw these with the templates in .dvc/plots/ (lines coloured by
the `model` column, confusion matrices faceted by it), so a new model appears in every
chart without being named in dvc.yaml.
"""

from pathlib import Path

from fruitveg.core import history, paths
from fruitveg.evaluation.files import write_csv
from fruitveg.report.inputs import Inputs
from fruitveg.report.settings import ReportSettings

HISTORY_COLUMNS = ("model", "epoch", *history.METRICS)
CONFUSION_COLUMNS = ("model", "actual", "predicted")


def write_histories(
    settings: ReportSettings, inputs: Inputs, target: Path = paths.REPORT_HISTORY_CSV
) -> None:
    """Every model's per-epoch training history."""
    rows = (
        [m.name, e.epoch, *(getattr(e, k) for k in history.METRICS)]
        for m in settings.models
        for e in inputs.histories[m.name]
    )
    write_csv(target, HISTORY_COLUMNS, rows)


def write_confusion(
    settings: ReportSettings, inputs: Inputs, target: Path = paths.REPORT_CONFUSION_CSV
) -> None:
    """Every model's (actual, predicted) label of each test image."""
    rows = (
        [m.name, actual, predicted]
        for m in settings.models
        for actual, predicted in zip(
            inputs.predictions[m.name]["actual"],
            inputs.predictions[m.name]["predicted"],
            strict=True,
        )
    )
    write_csv(target, CONFUSION_COLUMNS, rows)

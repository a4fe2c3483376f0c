"""What the report reads for every model: metrics/eval/<model>.json, the per-image
predictions beside it and plots/history/<model>.csv (through fruitveg.core.history)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fruitveg.core import history, paths
from fruitveg.core.errors import PipelineError
from fruitveg.core.history import Epoch
from fruitveg.core.model_config import ModelConfig

METRIC_KEYS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "loss", "f1_macro", "params",
    "images_per_s", "latency_ms", "n_test",
)  # fmt: skip


class ReportError(PipelineError):
    """An input of the report is missing or inconsistent; the message names it."""


@dataclass(frozen=True)
class Inputs:
    """Per model name: its metrics, predictions (indexed by image path) and epochs."""

    metrics: dict[str, dict[str, Any]]
    predictions: dict[str, pd.DataFrame]
    histories: dict[str, list[Epoch]]


def read_metrics(model: str) -> dict[str, Any]:
    path = paths.eval_metrics_json(model)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; run evaluate@{model} first (dvc repro)") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc}") from None
    missing = [k for k in METRIC_KEYS if not isinstance(metrics.get(k), int | float)]
    if missing:
        raise ReportError(f"{path}: missing or non-numeric {', '.join(missing)}")
    return metrics


def read_predictions(model: str) -> pd.DataFrame:
    path = paths.eval_predictions_csv(model)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; run evaluate@{model} first (dvc repro)") from None
    missing = {"path", "actual", "predicted"} - set(frame.columns)
    if missing:
        raise ReportError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["correct"] = frame["actual"] == frame["predicted"]
    return frame.set_index("path")


def read_inputs(models: Sequence[ModelConfig]) -> Inputs:
    if not models:
        raise ReportError("params.yaml: no models under 'models'")
    names = [m.name for m in models]
    return Inputs(
        metrics={name: read_metrics(name) for name in names},
        predictions={name: read_predictions(name) for name in names},
        histories={name: history.read(paths.history_csv(name)) for name in names},
    )

"""What the report reads: for every model metrics/eval/<model>.json and
<model>_details.json (headline metrics and every other number), the per-image
predictions beside it, plots/history/<model>.csv (through fruitveg.core.history) and
metrics/export/<model>.json (every TFLite format against the Keras model); for
every task the layout summary metrics/layout/<task>.json; the audit's report; and the
hash DVC recorded for data/raw in dvc.lock."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fruitveg.core import history, paths
from fruitveg.core.atomic import read_json
from fruitveg.core.errors import PipelineError
from fruitveg.core.history import Epoch
from fruitveg.core.model_config import ModelConfig
from fruitveg.evaluation.headline import unnest

METRIC_KEYS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "balanced_accuracy", "loss", "f1_macro",
    "ece", "params", "images_per_s", "latency_ms", "n_test",
)  # fmt: skip


class ReportError(PipelineError):
    """An input of the report is missing or inconsistent; the message names it."""


@dataclass(frozen=True)
class RawFingerprint:
    """data/raw as DVC's download stage recorded it in dvc.lock."""

    md5: str
    files: int | None
    size: int | None


@dataclass(frozen=True)
class Inputs:
    """Per model name: its metrics, predictions (indexed by image path) and epochs; per
    task its layout summary; the audit report; data/raw's fingerprint (None: unrecorded)."""

    metrics: dict[str, dict[str, Any]]
    predictions: dict[str, pd.DataFrame]
    histories: dict[str, list[Epoch]]
    layouts: dict[str, dict[str, Any]]
    audit: dict[str, Any]
    raw: RawFingerprint | None
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)  # metrics/export/<model>


def _read_json(path: Path, producer: str) -> dict[str, Any]:
    content = read_json(path, f"run {producer} first", ReportError)
    if not isinstance(content, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return content


def read_metrics(model: str) -> dict[str, Any]:
    """The headline metrics and the details of one model, as one flat dict."""
    path = paths.eval_metrics_json(model)
    try:
        metrics = unnest(model, _read_json(path, f"evaluate@{model}"))
    except KeyError:
        raise ReportError(f"{path}: expected one object, under {model!r}") from None
    metrics |= _read_json(paths.eval_details_json(model), f"evaluate@{model}")
    missing = [k for k in METRIC_KEYS if not isinstance(metrics.get(k), int | float)]
    if missing:
        files = f"{paths.eval_metrics_json(model)} + {paths.eval_details_json(model).name}"
        raise ReportError(f"{files}: missing or non-numeric {', '.join(missing)}")
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


def read_export(model: str) -> dict[str, Any]:
    """What export@<model> measured: one row per format (Keras first), each with a status."""
    path = paths.export_json(model)
    export = _read_json(path, f"export@{model}")
    if isinstance(export.get("skipped"), str):  # its arch is not in export.archs: no rows
        return export
    formats = export.get("formats")
    if not (isinstance(formats, list) and formats and all(isinstance(r, dict) for r in formats)):
        raise ReportError(f"{path}: 'formats' must be a non-empty list of rows")
    for row in formats:
        numbers = ("size_bytes", "accuracy", "latency_ms") if row.get("status") != "failed" else ()
        if not isinstance(row.get("format"), str) or any(
            not isinstance(row.get(k), int | float) for k in numbers
        ):
            raise ReportError(f"{path}: row {row.get('format')!r} lacks its format or numbers")
    if not all(isinstance(export.get(k), int) for k in ("n_test", "threads")):
        raise ReportError(f"{path}: missing n_test or threads")
    return export


def read_layout(task: str) -> dict[str, Any]:
    """The layout summary: image_size and counts[split][label], after dedupe."""
    path = paths.layout_summary(task)
    summary = _read_json(path, f"layout@{task}")
    if "skipped" in summary:  # check_params refuses the models of such a task: not data
        raise ReportError(f"{path}: {task} is {summary['skipped']}; its layout is empty")
    counts = summary.get("counts")
    ok = isinstance(counts, dict) and all(
        isinstance(counts.get(split), dict)
        and all(isinstance(n, int) for n in counts[split].values())
        for split in paths.SPLITS
    )
    if not ok:
        splits = ", ".join(paths.SPLITS)
        raise ReportError(f"{path}: 'counts' must map each of {splits} to images per class")
    return summary


def read_raw_fingerprint(lock: Path = paths.DVC_LOCK) -> RawFingerprint | None:
    """data/raw's hash from the download stage's entry in dvc.lock; None when not there
    (the report ran outside `dvc repro`, before the download was ever locked)."""
    try:
        stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        return None
    outs = (stages.get("download") or {}).get("outs") or []
    for out in outs:
        if isinstance(out, dict) and out.get("path") == paths.RAW.as_posix() and out.get("md5"):
            return RawFingerprint(str(out["md5"]), out.get("nfiles"), out.get("size"))
    return None


def read_inputs(models: Sequence[ModelConfig]) -> Inputs:
    if not models:
        raise ReportError("params.yaml: no models under 'models'")
    names = [m.name for m in models]
    tasks = sorted({m.task for m in models})
    return Inputs(
        metrics={name: read_metrics(name) for name in names},
        predictions={name: read_predictions(name) for name in names},
        histories={name: history.read(paths.history_csv(name)) for name in names},
        layouts={task: read_layout(task) for task in tasks},
        audit=_read_json(paths.AUDIT_REPORT, "the audit stage"),
        raw=read_raw_fingerprint(),
        exports={name: read_export(name) for name in names},
    )

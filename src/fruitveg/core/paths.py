"""Every path the pipeline reads or writes, in one place.

Paths are relative to the repository root, which is the working directory of every
DVC stage (and of the tests, which run stages inside a temporary copy).
"""

import os
from pathlib import Path

PARAMS = Path("params.yaml")
DVC_LOCK = Path("dvc.lock")  # the report reads data/raw's hash there, as DVC recorded it
DATA = Path("data")
RAW = DATA / "raw"
LAYOUTS = DATA / "layouts"
MODELS = DATA / "models"
METRICS = Path("metrics")
PLOTS = Path("plots")

AUDIT_REPORT = METRICS / "audit" / "report.json"
AUDIT_DUPLICATES = METRICS / "audit" / "duplicates.csv"
AUDIT_SAMPLES = PLOTS / "audit" / "samples.png"
AUDIT_COPIES = PLOTS / "audit" / "copies.png"  # contact sheet of the groups to review

# split: which split of the layouts each raw file goes to (the dataset's own, or made by
# the pipeline from whole duplicate groups), with dedupe's reason to leave it out; a summary.
SPLIT_ASSIGNMENT = DATA / "split" / "assignment.csv"
SPLIT_SUMMARY = METRICS / "split.json"

PUSH_DB_RECEIPT = DATA / "push_db" / "receipt.json"

# check_params: written once params.yaml's task and model names are checked; the same
# bytes every time, so what depends on it reruns for its own reasons only.
PARAMS_CHECKED = DATA / "params_checked.txt"

SPLITS = ("train", "validation", "test")
TASKS = ("binary", "multiclass")  # dvc.yaml's layout stage lists them itself


# Layouts hold JPEGs only (fruitveg.layout writes them); training and evaluation read these.
LAYOUT_IMAGE_SUFFIXES = (".jpg", ".jpeg")


def layout_dir(task: str) -> Path:
    return LAYOUTS / task


def layout_summary(task: str) -> Path:
    return METRICS / "layout" / f"{task}.json"


def model_dir(model: str) -> Path:
    return MODELS / model


def trained_with_json(model: str) -> Path:
    """What decided the model's numbers beyond params.yaml (fruitveg.core.trained_with)."""
    return model_dir(model) / "trained_with.json"


def history_csv(model: str) -> Path:
    """Per-epoch history of one model; its columns are fruitveg.core.history's."""
    return PLOTS / "history" / f"{model}.csv"


def train_backup_dir(model: str) -> Path:
    """Resume state of one model; outside the stage's outs, which DVC deletes on rerun."""
    return DATA / "train_backup" / model


def live_dir(model: str) -> Path:
    """dvclive's folder of one model: metrics.json and per-epoch plots."""
    return METRICS / "train" / model


# evaluate@<model>: headline metrics (the only DVC metrics: what `dvc exp show` and `dvc
# metrics diff` compare), the other numbers, per-class scores, per-image predictions.
EVAL_METRICS = METRICS / "eval"


def eval_metrics_json(model: str) -> Path:
    """Headline test metrics of one model: accuracy and its interval, loss, macro F1 (and
    balanced accuracy and ROC AUC for a binary model); nothing that varies from run to run
    of the same model."""
    return EVAL_METRICS / f"{model}.json"


def eval_details_json(model: str) -> Path:
    """Every other flat number of one model: counts, balanced accuracy, ECE, parameters,
    speed (images_per_s, latency_ms). A plain output, not a DVC metric."""
    return EVAL_METRICS / f"{model}_details.json"


def eval_per_class_json(model: str) -> Path:
    return EVAL_METRICS / f"{model}_per_class.json"


def eval_predictions_csv(model: str) -> Path:
    """One row per test image: path (relative to the test split), actual, predicted,
    confidence (P of the predicted label), then p_<label>: P of every label."""
    return EVAL_METRICS / f"{model}_predictions.csv"


def eval_plots_dir(model: str) -> Path:
    """confusion.png and curves.png; for a binary model also roc.csv and roc.png."""
    return PLOTS / "eval" / model


# export@<model>: the model in TensorFlow Lite formats (cached) and how each one scores.
EXPORTS = DATA / "exports"
EXPORT_METRICS = METRICS / "export"


def export_dir(model: str) -> Path:
    """<format>.tflite of each format that converted, and labels.json (the output order)."""
    return EXPORTS / model


def export_file(model: str, fmt: str) -> Path:
    return export_dir(model) / f"{fmt}.tflite"


def export_json(model: str) -> Path:
    """Per format: status, size, accuracy and its change against Keras, latency. A plain
    output, not a DVC metric: timings differ on every run."""
    return EXPORT_METRICS / f"{model}.json"


# report: the comparison of every model, and the long-format data (one `model` column) that
# dvc.yaml's top-level plots draw for every model without listing them.
REPORT_JSON = METRICS / "report.json"
REPORT_MD = METRICS / "report.md"
REPORT_PLOTS = PLOTS / "report"
REPORT_ACCURACY_PNG = REPORT_PLOTS / "accuracy.png"
REPORT_COST_PNG = REPORT_PLOTS / "accuracy_vs_cost.png"
REPORT_LIGHTENING_PNG = REPORT_PLOTS / "lightening.png"  # accuracy against file size
REPORT_HISTORY_CSV = REPORT_PLOTS / "history.csv"  # model, epoch, loss, accuracy, ...
REPORT_CONFUSION_CSV = REPORT_PLOTS / "confusion.csv"  # model, actual, predicted


# explain: where each multiclass model looks (Grad-CAM) and what its attention block does.
EXPLAIN_PLOTS = PLOTS / "explain"  # listed whole in dvc.yaml's plots: every model's pictures
EXPLAIN_ATTENTION_JSON = METRICS / "explain" / "attention.json"


def explain_gradcam_png(model: str) -> Path:
    return EXPLAIN_PLOTS / f"{model}_gradcam.png"


def explain_attention_png(model: str) -> Path:
    return EXPLAIN_PLOTS / f"{model}_attention.png"


def model_results(model: str) -> tuple[Path, ...]:
    """What the per-model stages write outside data/ and the plots, review and report read:
    check_params removes these for a model no longer in params.yaml."""
    return (
        eval_metrics_json(model),
        eval_details_json(model),
        eval_per_class_json(model),
        eval_predictions_csv(model),
        eval_plots_dir(model),
        export_json(model),
        history_csv(model),
        live_dir(model),
    )


def shown(path: Path | str) -> str:
    """A path or name as text: bytes that are not UTF-8 show as \\xNN.

    Linux names are bytes; Python keeps undecodable ones as lone surrogates, which no
    UTF-8 file and no strict stream (a pipe under a UTF-8 locale) can take.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")

"""Every path the pipeline reads or writes, in one place.

Paths are relative to the repository root, which is the working directory of every
DVC stage (and of the tests, which run stages inside a temporary copy).
"""

from pathlib import Path

PARAMS = Path("params.yaml")
DATA = Path("data")
RAW = DATA / "raw"
LAYOUTS = DATA / "layouts"
MODELS = DATA / "models"
METRICS = Path("metrics")
PLOTS = Path("plots")

AUDIT_REPORT = METRICS / "audit" / "report.json"
AUDIT_DUPLICATES = METRICS / "audit" / "duplicates.csv"
AUDIT_SAMPLES = PLOTS / "audit" / "samples.png"

PUSH_DB_RECEIPT = DATA / "push_db" / "receipt.json"

SPLITS = ("train", "validation", "test")
TASKS = ("binary", "multiclass")


# Layouts hold JPEGs only (fruitveg.layout writes them); training and evaluation read these.
LAYOUT_IMAGE_SUFFIXES = (".jpg", ".jpeg")


def layout_dir(task: str) -> Path:
    return LAYOUTS / task


def layout_summary(task: str) -> Path:
    return METRICS / "layout" / f"{task}.json"


def model_dir(model: str) -> Path:
    return MODELS / model


# Columns of a per-epoch history: written by training, pushed by push_db, drawn by plots.
HISTORY_COLUMNS = (
    "epoch",
    "start_time",
    "end_time",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
)


def history_csv(model: str) -> Path:
    """Per-epoch history of one model (epoch, times, losses, accuracies, learning rate)."""
    return PLOTS / "history" / f"{model}.csv"


def train_backup_dir(model: str) -> Path:
    """Resume state of one model; outside the stage's outs, which DVC deletes on rerun."""
    return DATA / "train_backup" / model


def live_dir(model: str) -> Path:
    """dvclive's folder of one model: metrics.json and per-epoch plots."""
    return METRICS / "train" / model

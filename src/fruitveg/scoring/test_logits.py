"""The test split scored once, by the train stage, beside the model it scores.

train@<model> writes data/models/<model>/test_logits.json right after the model file, in
the process that already holds TensorFlow; evaluate@<model> reads it and needs no
TensorFlow at all (starting it cost each evaluate stage more than the evaluation). The
logits come from model.keras as load_model reads it, the contract every consumer shares,
so they are what a fresh process loading the file computes (train passes the model it
has just saved, the same weights, rather than load it again). The file also records how
fast the model ran: images/s over the test split, single-image latency.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.core.atomic import read_json, write_json
from fruitveg.scoring.inference import latency_ms, predict
from fruitveg.scoring.loading import (
    EvaluationError,
    TestSplit,
    check_labels,
    find_test_split,
    giving_logits,
    load_images,
    load_model,
    read_labels,
)

FILE = "test_logits.json"
BATCH = 64  # inference batch; images/s is timed at this size


@dataclass(frozen=True)
class TestLogits:
    files: list[str]  # as TestSplit.files
    logits: np.ndarray  # (n, labels) or (n, 1) for a binary model, float64
    params: int
    images_per_s: float
    latency_ms: float


def score_test_split(model_dir: Path, layout: Path, model: Any = None) -> TestLogits:
    """Score the test split of `layout` with model_dir's model.keras and write FILE there.

    model: the model just saved there, never called, to spare loading it again.
    """
    if model is None:
        model, labels = load_model(model_dir)
    else:
        labels = read_labels(model_dir)
        model = giving_logits(model, labels, model_dir)
    split = find_test_split(layout)
    check_labels(labels, split, Path(model_dir) / "labels.json")
    images = load_images(split, tuple(model.inputs[0].shape[1:3]))
    logits, images_per_s = predict(model, images, BATCH)
    scored = TestLogits(
        split.files, logits, int(model.count_params()), images_per_s, latency_ms(model, images)
    )
    # repr of a float64 round-trips exactly: what evaluate reads is what was computed here
    write_json(
        Path(model_dir) / FILE,
        {
            "files": scored.files,
            "logits": logits.tolist(),
            "params": scored.params,
            "images_per_s": images_per_s,
            "latency_ms": scored.latency_ms,
        },
    )
    return scored


def read_test_logits(model_dir: Path, split: TestSplit) -> TestLogits:
    """FILE of model_dir, checked against the test split it must score."""
    path = Path(model_dir) / FILE
    data = read_json(path, "train the model first", EvaluationError)
    try:
        scored = TestLogits(
            [str(f) for f in data["files"]],
            np.asarray(data["logits"], dtype=np.float64),
            int(data["params"]),
            float(data["images_per_s"]),
            float(data["latency_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EvaluationError(f"{path}: malformed ({exc}); train the model again") from None
    if scored.files != split.files:
        raise EvaluationError(
            f"{path} scores {len(scored.files)} test images, but {split.root} holds "
            f"{len(split.files)}{' others' if len(scored.files) == len(split.files) else ''}: "
            "the model was scored on another layout; train it again (dvc repro)"
        )
    if scored.logits.ndim != 2 or len(scored.logits) != len(scored.files):
        raise EvaluationError(f"{path}: logits do not match its file list; train it again")
    return scored

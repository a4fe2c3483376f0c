"""A trained model, its labels and its test split, each checked against the others.

Contract: data/models/<model>/model.keras (best checkpoint) takes raw 0-255 RGB images and
outputs softmax over the labels in labels.json, or for a binary model one sigmoid =
P(second label). load_model returns it giving the logits under that softmax or sigmoid,
as Keras' own loss reads them (fruitveg.evaluation.statistics.cross_entropy). The test
split is data/layouts/<task>/test/<label>/<image>, with the labels sorted by name.
"""

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fruitveg.core import paths
from fruitveg.core.atomic import read_json
from fruitveg.core.errors import PipelineError


class EvaluationError(PipelineError):
    """The model, its labels or the test split can't be evaluated; the message says why."""


@dataclass(frozen=True)
class TestSplit:
    root: Path
    labels: list[str]
    files: list[str]  # "<label>/<file name>", relative to root
    y: np.ndarray  # index into labels


def find_test_split(layout: Path) -> TestSplit:
    return find_split(layout, "test")


def find_split(layout: Path, split: str) -> TestSplit:
    """Every image of one split of a layout (export calibrates on the training split)."""
    root = Path(layout) / split
    if not root.is_dir():
        raise EvaluationError(
            f"{root}: {split} split not found; build the layout first (dvc repro)"
        )
    labels = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[str] = []
    y: list[int] = []
    for index, label in enumerate(labels):
        for f in sorted((root / label).iterdir()):
            if f.is_file() and f.suffix.lower() in paths.LAYOUT_IMAGE_SUFFIXES:
                files.append(f"{label}/{f.name}")
                y.append(index)
    if not files:
        raise EvaluationError(f"{root}: no {split} images found")
    return TestSplit(root, labels, files, np.asarray(y, dtype=np.int64))


def read_labels(model_dir: Path) -> list[str]:
    path = Path(model_dir) / "labels.json"
    labels = read_json(path, "train the model first", EvaluationError)
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        raise EvaluationError(f"{path}: expected a non-empty list of label names")
    return labels


def read_trained_with(name: str) -> dict[str, Any]:
    """What the train stage recorded beside the model (fruitveg.core.trained_with)."""
    path = paths.trained_with_json(name)
    facts = read_json(path, f"retrain {name}: it predates this record", EvaluationError)
    if not isinstance(facts, dict):
        raise EvaluationError(f"{path}: expected a JSON object; retrain the model")
    return facts


def check_labels(model_labels: list[str], split: TestSplit, labels_file: Path) -> None:
    """The model's output order must be the test split's sorted label folders, exactly."""
    if model_labels == split.labels:
        return
    only_model = sorted(set(model_labels) - set(split.labels))
    only_split = sorted(set(split.labels) - set(model_labels))
    if only_model or only_split:
        in_model, in_split = only_model or "none", only_split or "none"
        detail = f"only in the model: {in_model}; only in the test split: {in_split}"
    else:
        detail = f"same names in a different order: {model_labels} vs {split.labels}"
    raise EvaluationError(
        f"classes of {labels_file} do not match the test split {split.root} ({detail}); "
        "was the model trained on another layout?"
    )


def load_model(model_dir: Path) -> tuple[Any, list[str]]:
    model_file = Path(model_dir) / "model.keras"
    if not model_file.is_file():
        raise EvaluationError(f"{model_file}: model file not found; train it first (dvc repro)")
    labels = read_labels(model_dir)
    import keras  # here, not at the top: the report and the statistics don't need TensorFlow

    if not zipfile.is_zipfile(model_file):  # Keras would say "File not found"
        raise EvaluationError(
            f"{model_file}: unreadable: truncated or corrupt (not a whole .keras archive); "
            "train it again (dvc repro)"
        )
    try:
        model = keras.saving.load_model(model_file, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; all mean the same here
        raise EvaluationError(f"{model_file}: cannot be loaded: {exc}") from exc
    return giving_logits(model, labels, model_dir), labels


def giving_logits(model: Any, labels: list[str], model_dir: Path) -> Any:
    """`model`, never called yet, made to output logits: its head's softmax or sigmoid off."""
    import keras

    model_file = Path(model_dir) / "model.keras"
    head, squashes = model.layers[-1], (keras.activations.softmax, keras.activations.sigmoid)
    if getattr(head, "activation", None) not in squashes:
        raise EvaluationError(
            f"{model_file}: the output layer {head.name!r} must end in a softmax or sigmoid "
            "activation (fruitveg.models builds it so)"
        )
    # Logits, not probabilities: a probability below float32's range would be 0 and its
    # loss infinite, where Keras' loss (from the logits) is finite. Set before the first
    # call, which traces the model with the activation it has then.
    head.activation = keras.activations.linear
    check_outputs(int(model.outputs[0].shape[-1]), labels, model_file, model_dir)
    return model


def check_outputs(units: int, labels: list[str], model_file: Path, model_dir: Path) -> None:
    """One output per label (softmax), or one sigmoid for two labels: anything else would
    put other names on the model's outputs, or none."""
    if units == len(labels) >= 2 or (units == 1 and len(labels) == 2):
        return
    n = len(labels)
    raise EvaluationError(
        f"{Path(model_dir) / 'labels.json'} lists {n} label{'s' * (n != 1)} but {model_file} "
        f"has {units} output{'s' * (units != 1)} (one per label, or one for two labels); "
        "they come from different runs (dvc repro)"
    )


def load_images(split: TestSplit, size: tuple[int | None, int | None]) -> np.ndarray:
    """All test images as uint8 RGB, shape (n, height, width, 3)."""
    height, width = size
    images = []
    for rel in split.files:
        path = split.root / rel
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except OSError as exc:
            raise EvaluationError(f"{path}: cannot be read as an image: {exc}") from None
        if (height and rgb.shape[0] != height) or (width and rgb.shape[1] != width):
            raise EvaluationError(
                f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but the model takes "
                f"{width}x{height}; the layout and the model are out of step (dvc repro)"
            )
        images.append(rgb)
    if len({im.shape for im in images}) > 1:
        raise EvaluationError(f"{split.root}: test images differ in size; rebuild the layout")
    return np.stack(images)

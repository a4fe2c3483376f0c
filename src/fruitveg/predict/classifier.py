"""A trained model or one of its TFLite exports, giving class probabilities for images.

Both go through evaluation's code: load_model (the Keras model giving logits) and
probabilities/predicted_classes, so a prediction here is what evaluate would have made.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.core import paths
from fruitveg.core.atomic import read_json
from fruitveg.core.errors import PipelineError
from fruitveg.evaluation.scores import predicted_classes, probabilities
from fruitveg.export.runtime import TfliteModel
from fruitveg.predict.settings import PredictSettings
from fruitveg.scoring.loading import check_outputs, load_model, read_labels

BATCH = 32


class PredictError(PipelineError):
    """The model can't be used for prediction; the message says which stage to run."""


@dataclass
class Classifier:
    model: Any  # anything with predict_on_batch(float32 images) -> logits
    labels: list[str]
    size: int  # side of the square images the model takes
    threshold: float
    source: Path  # the model file

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(predicted class index, class probabilities) of a uint8 batch."""
        outputs = [
            np.asarray(self.model.predict_on_batch(images[i : i + BATCH].astype(np.float32)))
            for i in range(0, len(images), BATCH)
        ]
        probs = probabilities(np.concatenate(outputs))
        return predicted_classes(probs, self.threshold), probs


def _untrained(name: str) -> PredictError:
    return PredictError(
        f"model {name!r} is not trained yet ({paths.model_dir(name) / 'model.keras'} not "
        f"found); run `dvc repro train@{name}`"
    )


def _failed_reason(name: str, fmt: str) -> str | None:
    """Why export@<name> left `fmt` out, as its metrics file says; None if it doesn't."""
    try:
        result = read_json(paths.export_json(name), "")
        if isinstance(result.get("skipped"), str):
            why = result["skipped"]
            return f"skipped: {why}; add it there and run `dvc repro export@{name}`"
        row = next(r for r in result["formats"] if r["format"] == fmt)
        return row["reason"] if row["status"] == "failed" else None
    except (PipelineError, KeyError, TypeError, AttributeError, StopIteration):
        return None


def load(settings: PredictSettings) -> Classifier:
    name, fmt = settings.model.name, settings.fmt
    model_file = paths.model_dir(name) / "model.keras"
    if fmt == "keras":
        if not model_file.is_file():
            raise _untrained(name)
        model, labels = load_model(paths.model_dir(name))
        size = int(model.inputs[0].shape[1])
        return Classifier(model, labels, size, settings.threshold, model_file)
    file = paths.export_file(name, fmt)
    if not file.is_file():
        if not model_file.is_file():
            raise _untrained(name)
        why = _failed_reason(name, fmt)
        if why:
            raise PredictError(f"{file}: export@{name} could not make the {fmt} format: {why}")
        raise PredictError(f"{file}: not found; run `dvc repro export@{name}`")
    try:
        model = TfliteModel.load(file, settings.threads)
    except OSError as exc:
        raise PredictError(f"{file}: unreadable: {exc.strerror or exc}") from None
    except (ValueError, RuntimeError) as exc:  # LiteRT's errors for a file that isn't a model
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PredictError(
            f"{file}: unreadable: truncated or corrupt ({why}); run `dvc repro export@{name}`"
        ) from None
    labels = read_labels(paths.export_dir(name))
    check_outputs(int(model.output["shape"][-1]), labels, file, paths.export_dir(name))
    return Classifier(model, labels, model.image_size[0], settings.threshold, file)

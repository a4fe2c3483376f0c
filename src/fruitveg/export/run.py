"""export@<model>: the trained model in every TFLite format, each scored on the test split in
the same run as the Keras model it came from.

Per format: accuracy with its exact interval, agreement with the Keras model's predictions,
the exact McNemar test against it on the same images, file size, single-image latency and
throughput (interpreter threads = cores). A format the converter refuses, or whose
interpreter fails, is a row with status `failed` and the reason; one whose accuracy falls
more than `export.collapse_points` below Keras' is `collapsed`: the stage itself succeeds,
so one unconvertible model never stops the pipeline. A model whose architecture
`export.archs` leaves out (the offline default leaves out the backbones, trained there for
one epoch from scratch, whose conversions would add minutes) is recorded as skipped.
"""

import contextlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.evaluation.scores import predicted_classes, probabilities
from fruitveg.evaluation.statistics import exact_interval, mcnemar_exact
from fruitveg.export.convert import FORMATS, ConversionError, convert, reason, saved_model
from fruitveg.export.runtime import TfliteModel
from fruitveg.export.settings import ExportSettings
from fruitveg.export.skip import skip
from fruitveg.scoring.inference import latency_ms, predict
from fruitveg.scoring.loading import (
    TestSplit,
    check_labels,
    find_split,
    find_test_split,
    load_images,
    load_model,
)

OK, COLLAPSED, FAILED = "ok", "collapsed", "failed"


def calibration_sample(split: TestSplit, n: int, seed: int) -> TestSplit:
    """A seeded sample of `n` images of `split` (all of it when smaller), in file order."""
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(split.files), size=min(n, len(split.files)), replace=False))
    files = [split.files[i] for i in keep]
    return TestSplit(split.root, split.labels, files, split.y[keep])


def _scores(model: Any, images: np.ndarray, settings: ExportSettings) -> dict[str, Any]:
    """Predicted classes and speed of one model (Keras or TFLite) on the test images."""
    logits, per_s = predict(model, images, settings.batch_size)
    pred = predicted_classes(probabilities(logits), settings.threshold)
    return {
        "pred": pred,
        "latency_ms": latency_ms(model, images, settings.latency_images),
        "images_per_s": per_s,
    }


def _accuracy(correct: np.ndarray) -> dict[str, float]:
    low, high = exact_interval(int(correct.sum()), len(correct))
    return {"accuracy": float(correct.mean()), "accuracy_ci_low": low, "accuracy_ci_high": high}


def _failed(fmt: str, why: str) -> dict[str, Any]:
    return {"format": fmt, "description": FORMATS[fmt], "status": FAILED, "reason": why}


def _row(
    fmt: str, size: int, scored: dict[str, Any], keras: dict[str, Any], y: np.ndarray,
    settings: ExportSettings,
) -> dict[str, Any]:  # fmt: skip
    correct, keras_correct = scored["pred"] == y, keras["pred"] == y
    only_format, only_keras, p = mcnemar_exact(correct, keras_correct)
    row: dict[str, Any] = {"format": fmt, "description": FORMATS[fmt], "status": OK, "reason": None}
    row |= {"size_bytes": size, "size_ratio": size / keras["size_bytes"], **_accuracy(correct)}
    change = 100 * (row["accuracy"] - keras["accuracy"])
    row |= {
        "change_points": change,
        "agreement": float(np.mean(scored["pred"] == keras["pred"])),
        "only_format_correct": only_format,
        "only_keras_correct": only_keras,
        "p_value": p,
        "latency_ms": scored["latency_ms"],
        "latency_ratio": scored["latency_ms"] / keras["latency_ms"],
        "images_per_s": scored["images_per_s"],
    }
    if change < -settings.collapse_points:
        row["status"] = COLLAPSED
        row["reason"] = (
            f"accuracy {100 * row['accuracy']:.2f} % against Keras' "
            f"{100 * keras['accuracy']:.2f} %: {-change:.2f} points lower, more than "
            f"export.collapse_points ({settings.collapse_points:g})"
        )
    return row


def export(settings: ExportSettings) -> dict[str, Any]:
    """Convert, score and write one model's exports; returns what metrics/export holds."""
    name = settings.name
    if not settings.enabled:
        return skip(settings)
    model_dir = paths.model_dir(name)
    layout = paths.layout_dir(settings.model.task)
    split = find_test_split(layout)
    model, labels = load_model(model_dir)
    check_labels(labels, split, model_dir / "labels.json")
    size = tuple(model.inputs[0].shape[1:3])
    images = load_images(split, size)
    sample = calibration_sample(find_split(layout, "train"), settings.calibration_images,
                                settings.seed)  # fmt: skip
    calibration = load_images(sample, size)
    threads = settings.interpreter_threads

    keras = _scores(model, images, settings)
    keras["size_bytes"] = (model_dir / "model.keras").stat().st_size
    keras_correct = keras["pred"] == split.y
    keras_row = {"format": "keras", "description": "Keras model.keras (float32)", "status": OK,
                 "reason": None, "size_bytes": keras["size_bytes"], "size_ratio": 1.0,
                 **_accuracy(keras_correct), "change_points": 0.0, "agreement": 1.0,
                 "latency_ms": keras["latency_ms"], "latency_ratio": 1.0,
                 "images_per_s": keras["images_per_s"]}  # fmt: skip
    keras["accuracy"] = keras_row["accuracy"]
    rows = [keras_row]
    with atomic_dir(paths.export_dir(name)) as out, contextlib.ExitStack() as stack:
        shutil.copyfile(model_dir / "labels.json", out / "labels.json")
        try:
            source, refused = stack.enter_context(saved_model(model)), None
        except ConversionError as exc:  # no format can be made: each says why
            source, refused = Path(), f"converter: {exc}"
        for fmt in FORMATS:
            try:
                if refused:
                    raise ConversionError(refused.removeprefix("converter: "))
                content = convert(source, fmt, calibration)
            except ConversionError as exc:
                rows.append(_failed(fmt, f"converter: {exc}"))
                continue
            try:
                scored = _scores(TfliteModel(content, threads), images, settings)
            except Exception as exc:  # the interpreter's errors have no common type
                rows.append(_failed(fmt, f"interpreter: {reason(exc)}"))
                continue
            (out / f"{fmt}.tflite").write_bytes(content)
            rows.append(_row(fmt, len(content), scored, keras, split.y, settings))
    result = {
        "model": name,
        "task": settings.model.task,
        "n_test": len(split.y),
        "image_size": list(size),
        "threads": threads,
        "calibration_images": len(sample.files),
        "collapse_points": settings.collapse_points,
        "formats": [_rounded(r) for r in rows],
    }
    write_json(paths.export_json(name), result)
    return result


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}

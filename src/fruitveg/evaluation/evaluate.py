"""Evaluate one trained model on the test split of its layout and write all its outputs.

Outputs (paths in fruitveg.core.paths): flat metrics (read by `dvc metrics`), per-class
scores, per-image predictions (the report pairs models on them and draws every model's
confusion matrix from them), and the pictures of plots/eval/<model>/.
"""

import numpy as np

from fruitveg.core import history, paths
from fruitveg.core.atomic import write_json
from fruitveg.evaluation.files import write_csv
from fruitveg.evaluation.inference import latency_ms, predict
from fruitveg.evaluation.loading import check_labels, find_test_split, load_images, load_model
from fruitveg.evaluation.plots import write_plots
from fruitveg.evaluation.scores import (
    class_probabilities,
    compute_metrics,
    per_class_scores,
    predicted_classes,
)
from fruitveg.evaluation.settings import EvaluateSettings


def evaluate(settings: EvaluateSettings) -> dict[str, float]:
    """Evaluate one model and write all its outputs; return its metrics."""
    name = settings.name
    model_dir = paths.model_dir(name)
    split = find_test_split(paths.layout_dir(settings.model.task))
    model, labels = load_model(model_dir)
    check_labels(labels, split, model_dir / "labels.json")
    epochs = history.read(paths.history_csv(name))

    images = load_images(split, tuple(model.inputs[0].shape[1:3]))
    outputs, images_per_s = predict(model, images, settings.batch_size)
    result = compute_metrics(split.y, outputs, labels, settings)
    result.update(
        n_test=len(split.files),
        params=int(model.count_params()),
        images_per_s=images_per_s,
        latency_ms=latency_ms(model, images),
    )
    result = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}

    write_plots(settings, split.y, outputs, labels, result, epochs)
    pred = predicted_classes(outputs, settings.threshold)
    confidence = class_probabilities(outputs)[np.arange(len(pred)), pred]
    rows = [
        [path, labels[a], labels[p], round(float(c), 6)]
        for path, a, p, c in zip(split.files, split.y, pred, confidence, strict=True)
    ]
    header = ["path", "actual", "predicted", "confidence"]
    write_csv(paths.eval_predictions_csv(name), header, rows)
    write_json(paths.eval_per_class_json(name), per_class_scores(split.y, pred, labels))
    write_json(paths.eval_metrics_json(name), result)
    return result

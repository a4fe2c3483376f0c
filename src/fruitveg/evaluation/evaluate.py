"""Evaluate one trained model on the test split of its layout and write all its outputs.

The model's logits on the test split come from the train stage, which scores it beside the
model file (fruitveg.scoring.test_logits); evaluation itself runs no model, so no TensorFlow.

Outputs (paths in fruitveg.core.paths): the headline metrics (the DVC metrics, few and
stable, so `dvc exp show` and `dvc metrics diff` stay readable), every other number
(timings, counts, calibration...), per-class scores, per-image predictions with every
class probability (the report pairs models on them and draws every model's confusion
matrix from them; top-k, loss and calibration can be recomputed from them), and the
pictures of plots/eval/<model>/. The details carry what the train stage recorded beside the
model (fruitveg.core.trained_with): what decides the numbers beyond params.yaml.
"""

import numpy as np

from fruitveg.core import history, paths, trained_with
from fruitveg.core.atomic import write_json
from fruitveg.evaluation.files import write_csv
from fruitveg.evaluation.headline import split as split_headline
from fruitveg.evaluation.plots import write_plots
from fruitveg.evaluation.scores import (
    compute_metrics,
    per_class_scores,
    predicted_classes,
    probabilities,
)
from fruitveg.evaluation.settings import EvaluateSettings
from fruitveg.scoring.loading import (
    EvaluationError,
    check_labels,
    find_test_split,
    read_labels,
    read_trained_with,
)
from fruitveg.scoring.test_logits import read_test_logits


def evaluate(settings: EvaluateSettings) -> dict[str, float | int | None]:
    """Evaluate one model and write all its outputs; return all its numbers."""
    name = settings.name
    model_dir = paths.model_dir(name)
    split = find_test_split(paths.layout_dir(settings.model.task))
    labels = read_labels(model_dir)
    check_labels(labels, split, model_dir / "labels.json")
    facts = read_trained_with(name)
    epochs = history.read(paths.history_csv(name))
    scored = read_test_logits(model_dir, split)
    logits = scored.logits
    probs = probabilities(logits)
    bad = int((~np.isfinite(probs).all(axis=1)).sum())
    if bad:  # scikit-learn would stop on them with a message naming no model
        raise EvaluationError(
            f"{model_dir / 'model.keras'}: model {name} gives NaN probabilities for {bad} of "
            f"{len(probs)} test images: its weights have diverged; train it again with a "
            f"lower models.{name}.lr"
        )
    result = compute_metrics(split.y, probs, settings)
    result.update(
        params=scored.params,
        images_per_s=scored.images_per_s,
        latency_ms=scored.latency_ms,
    )
    result = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}

    write_plots(settings, split.y, probs, labels, result, epochs)
    pred = predicted_classes(probs, settings.threshold)
    # Probabilities written in full (repr round-trips a float64 exactly), so what is
    # recomputed from the file is what was computed here.
    rows = [
        [path, labels[a], labels[p], p_row[p], *p_row]
        for path, a, p, p_row in zip(split.files, split.y, pred, probs.tolist(), strict=True)
    ]
    header = ["path", "actual", "predicted", "confidence", *(f"p_{label}" for label in labels)]
    write_csv(paths.eval_predictions_csv(name), header, rows)
    write_json(paths.eval_per_class_json(name), per_class_scores(split.y, pred, labels))
    headline, details = split_headline(name, result, binary=settings.model.task == "binary")
    write_json(paths.eval_details_json(name), details | {trained_with.KEY: facts})
    write_json(paths.eval_metrics_json(name), headline)
    return result

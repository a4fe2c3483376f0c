"""The explain stage: for every multiclass model a Grad-CAM grid of test images; for every
attention model its block's weights and feature scales beside the model without it.

Every model is loaded as evaluation loads it (the same checks, outputs as logits), so the
images, classes and predictions are evaluate's. One process serves every model: starting
TensorFlow costs more than explaining a small model.
"""

from pathlib import Path
from typing import Any

import numpy as np

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.evaluation.loading import (
    TestSplit,
    check_labels,
    find_test_split,
    load_images,
    load_model,
)
from fruitveg.evaluation.scores import probabilities
from fruitveg.explain import attention
from fruitveg.explain.examples import choose
from fruitveg.explain.figures import plot_attention, plot_gradcam
from fruitveg.explain.gradcam import feature_model, forward, gradcam
from fruitveg.explain.settings import TASK, ExplainSettings


def explain_model(
    model: Any, labels: list[str], split: TestSplit, settings: ExplainSettings, target: Path
) -> np.ndarray:
    """One model's Grad-CAM grid; returns the test images as the model reads them."""
    images = load_images(split, tuple(model.inputs[0].shape[1:3]))
    features = feature_model(model)
    _, logits = forward(features, images)
    probs = probabilities(logits)
    examples = choose(split.y, probs, settings.right, settings.wrong)
    heat = gradcam(features, images[[e.index for e in examples]], [e.predicted for e in examples])
    h, w, c = features.outputs[0].shape[1:]
    accuracy = float((probs.argmax(axis=1) == split.y).mean())
    title = (
        f"{model.name}: Grad-CAM of the predicted class on the {h}×{w}×{c} map the head reads "
        f"(test accuracy {100 * accuracy:.1f} %)\ngreen: right; red: wrong "
        "(actual →, then predicted and its probability)"
    )
    plot_gradcam(images, heat, examples, labels, title, target)
    return images


def explain(settings: ExplainSettings) -> dict[str, Any]:
    """Write plots/explain/ and metrics/explain/attention.json; return the JSON's content."""
    split = find_test_split(paths.layout_dir(TASK))
    pending = list(settings.attention_pairs)
    loaded: dict[str, tuple[Any, np.ndarray]] = {}  # kept only while a pending pair needs it
    numbers: dict[str, Any] = {}
    with atomic_dir(paths.EXPLAIN_PLOTS) as out:
        for config in settings.models:
            folder = paths.model_dir(config.name)
            model, labels = load_model(folder)
            check_labels(labels, split, folder / "labels.json")
            grid = out / paths.explain_gradcam_png(config.name).name
            images = explain_model(model, labels, split, settings, grid)
            loaded[config.name] = (model, images)
            # Measure each attention model once it and its partner are both loaded.
            for pair in [p for p in pending if all(n is None or n in loaded for n in p)]:
                pending.remove(pair)
                name, plain = pair
                (block_model, block_images) = loaded[name]
                partner = loaded[plain][0] if plain else None
                m = attention.measure(block_model, partner, block_images)
                plot_attention(name, plain, m, out / paths.explain_attention_png(name).name)
                numbers[name] = attention.numbers(name, plain, m)
            needed = {n for p in pending for n in p}
            loaded = {n: v for n, v in loaded.items() if n in needed}
    write_json(paths.EXPLAIN_ATTENTION_JSON, numbers)
    return numbers

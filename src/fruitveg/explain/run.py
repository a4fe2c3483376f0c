"""The explain stage: for every multiclass model a Grad-CAM grid of test images; for every
attention model its block's weights and feature scales beside the model without it.

Every model is loaded as evaluation loads it (the same checks, outputs as logits), so the
images, classes and predictions are evaluate's. One process serves every model (starting
TensorFlow costs more than explaining a small model), one pass over the test images per
model records everything (fruitveg.explain.probe), and only that pass's small record of a
model is kept until its attention partner has been seen.
"""

from typing import Any

import numpy as np

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.evaluation.scores import probabilities
from fruitveg.explain.attention import numbers as attention_entry
from fruitveg.explain.examples import choose
from fruitveg.explain.figures import plot_attention, plot_gradcam
from fruitveg.explain.gradcam import feature_model, gradcam
from fruitveg.explain.probe import PassRecord, attention_numbers, run_pass
from fruitveg.explain.settings import TASK, ExplainSettings
from fruitveg.scoring.loading import check_labels, find_test_split, load_images, load_model


def grid_title(name: str, shape: list[int], accuracy: float) -> str:
    h, w, c = shape
    return (
        f"{name}: Grad-CAM of the predicted class on the {h}×{w}×{c} map the head reads "
        f"(test accuracy {100 * accuracy:.1f} %)\ngreen: right; red: wrong, actual → "
        "predicted (probability)"
    )


def explain(settings: ExplainSettings) -> dict[str, Any]:
    """Write plots/explain/ and metrics/explain/attention.json; return the JSON's content."""
    numbers: dict[str, Any] = {}
    if not settings.models:  # tasks: [binary] leaves the multiclass layout empty
        with atomic_dir(paths.EXPLAIN_PLOTS):
            pass
        write_json(paths.EXPLAIN_ATTENTION_JSON, numbers)
        return numbers
    split = find_test_split(paths.layout_dir(TASK))
    blocks = {name for name, _ in settings.attention_pairs}
    passes: dict[str, PassRecord] = {}
    with atomic_dir(paths.EXPLAIN_PLOTS) as out:
        for config in settings.models:
            folder = paths.model_dir(config.name)
            model, labels = load_model(folder)
            check_labels(labels, split, folder / "labels.json")
            images = load_images(split, tuple(model.inputs[0].shape[1:3]))
            seen = run_pass(model, images, gate=config.name in blocks)
            probs = probabilities(seen.outputs)
            examples = choose(split.y, probs, settings.right, settings.wrong)
            picked = images[[e.index for e in examples]]
            heat = gradcam(feature_model(model), picked, np.array([e.predicted for e in examples]))
            accuracy = float((probs.argmax(axis=1) == split.y).mean())
            title = grid_title(config.name, seen.head_shape, accuracy)
            grid = out / paths.explain_gradcam_png(config.name).name
            plot_gradcam(picked, heat, examples, labels, title, grid)
            passes[config.name] = seen
            # Each attention model once it and its partner have both been through.
            for name, plain in settings.attention_pairs:
                if name in numbers or name not in passes or (plain and plain not in passes):
                    continue
                m = attention_numbers(passes[name], passes[plain] if plain else None)
                plot_attention(name, plain, m, out / paths.explain_attention_png(name).name)
                numbers[name] = attention_entry(name, plain, m)
    write_json(paths.EXPLAIN_ATTENTION_JSON, numbers)
    return numbers

"""evaluate@<model>: test metrics, per-class scores, predictions and pictures of one model.

Usage: python stages/evaluate.py <model>   (from the repository root)
Reads params.yaml: models.<model>.task, evaluate.batch_size, evaluate.bootstrap_resamples,
evaluate.threshold, seed.
"""

import os
import sys

from fruitveg.core import params as prm
from fruitveg.core import paths
from fruitveg.core.errors import PipelineError, run_stage
from fruitveg.evaluation import evaluate as evaluation

USAGE = "usage: python stages/evaluate.py <model>   (a key of params.yaml models:)"


def settings_from(params: dict) -> evaluation.Settings:
    threshold = prm.get(params, "evaluate.threshold")
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    if not (number and 0 < threshold < 1):
        raise prm.ParamError(
            f"params.yaml: 'evaluate.threshold' must be a number in (0, 1), got {threshold!r}"
        )
    seed = prm.get(params, "seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise prm.ParamError(f"params.yaml: 'seed' must be a whole number, got {seed!r}")
    return evaluation.Settings(
        batch_size=prm.whole(params, "evaluate.batch_size"),
        bootstrap_resamples=prm.whole(params, "evaluate.bootstrap_resamples"),
        threshold=float(threshold),
        seed=seed,
    )


def main() -> None:
    if len(sys.argv) != 2:
        raise PipelineError(USAGE)
    model = sys.argv[1]
    params = prm.load()
    models = prm.get(params, "models")
    if not isinstance(models, dict) or model not in models:
        known = ", ".join(models) if isinstance(models, dict) else "none"
        raise prm.ParamError(f"params.yaml: unknown model {model!r} (models: has {known})")
    task = prm.choice(params, f"models.{model}.task", paths.TASKS)
    settings = settings_from(params)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # before Keras loads TensorFlow
    m = evaluation.evaluate(model, task, settings)
    print(
        f"evaluate@{model}: test accuracy {100 * m['accuracy']:.2f} % (95 % CI "
        f"{100 * m['accuracy_ci_low']:.2f}-{100 * m['accuracy_ci_high']:.2f}) on {m['n_test']} "
        f"images, loss {m['loss']:.4f}, macro F1 {m['f1_macro']:.4f}"
    )


if __name__ == "__main__":
    run_stage(main)

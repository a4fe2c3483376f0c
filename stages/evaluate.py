"""evaluate@<model>: test metrics, per-class scores, predictions and pictures of one model.

Usage: python stages/evaluate.py <model>   (from the repository root)
Reads params.yaml: models.<model>, evaluate.bootstrap_resamples, evaluate.threshold,
evaluate.ece_bins, seed. The model's test logits come from train (fruitveg.scoring).
"""

import sys

from fruitveg.core.errors import PipelineError, run_stage

USAGE = "usage: python stages/evaluate.py <model>   (a key of params.yaml models:)"


def main() -> None:
    if len(sys.argv) != 2:
        raise PipelineError(USAGE)
    from fruitveg.core import params
    from fruitveg.evaluation.evaluate import evaluate
    from fruitveg.evaluation.settings import evaluate_settings

    settings = evaluate_settings(params.load(), sys.argv[1])  # every setting checked, once
    m = evaluate(settings)
    print(
        f"evaluate@{settings.name}: test accuracy {100 * m['accuracy']:.2f} % (95 % exact CI "
        f"{100 * m['accuracy_ci_low']:.2f}-{100 * m['accuracy_ci_high']:.2f}) on {m['n_test']} "
        f"images, balanced {100 * m['balanced_accuracy']:.2f} %, loss {m['loss']:.4f}, "
        f"macro F1 {m['f1_macro']:.4f}, ECE {m['ece']:.4f}"
    )


if __name__ == "__main__":
    run_stage(main)

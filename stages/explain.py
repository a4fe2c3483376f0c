"""explain: where each multiclass model looks, and what its attention block does.

Usage: python stages/explain.py   (from the repository root)
Reads params.yaml: models (which are multiclass, and which differ only in attention) and
explain.right, explain.wrong; the trained models and the multiclass layout's test split.
Writes plots/explain/<model>_gradcam.png for every multiclass model (placeholder backbones,
random and frozen, left out),
plots/explain/<model>_attention.png for every attention model, and
metrics/explain/attention.json (the numbers behind the attention pictures).
"""

import time

from fruitveg.core.errors import run_stage
from fruitveg.core.native_logs import quiet_tensorflow


def main() -> None:
    quiet_tensorflow()  # before Keras loads TensorFlow
    from fruitveg.core import params, paths
    from fruitveg.explain.run import explain
    from fruitveg.explain.settings import explain_settings

    settings = explain_settings(params.load())  # every setting checked, once
    start = time.perf_counter()
    numbers = explain(settings)
    print(
        f"explain: {len(settings.models)} Grad-CAM grids, {len(numbers)} attention blocks -> "
        f"{paths.EXPLAIN_PLOTS}/, {paths.EXPLAIN_ATTENTION_JSON} "
        f"({time.perf_counter() - start:.1f} s after start-up)"
    )
    if settings.placeholders:
        print(f"  left out: {', '.join(settings.placeholders)} (placeholder backbones: random "
              "frozen features, nothing to explain)")  # fmt: skip
    for name, n in numbers.items():
        w, ratio = n["weights"], n["after_over_before_rms"]
        print(
            f"  {name}: channel weights median {w['p50']:.3f} (5-95 % {w['p05']:.3f}-"
            f"{w['p95']:.3f}); rms after/before the block "
            + (f"{ratio:.3f}" if ratio is not None else "n/a (all zero before)")
        )


if __name__ == "__main__":
    run_stage(main)

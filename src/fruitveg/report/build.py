"""The report's content: the study's comparison table, paired tests and confused classes.

Beside the table: exact McNemar tests for the pairs of ReportSettings on the same test
images, so a gap of one or two images is not read as a result; and the class pairs the
multiclass models confuse most.
"""

from typing import Any

import pandas as pd

from fruitveg.core import history
from fruitveg.evaluation.statistics import CONFIDENCE, mcnemar_exact
from fruitveg.report.inputs import Inputs, ReportError
from fruitveg.report.settings import ReportSettings

ALPHA = 0.05
TOP_CONFUSED = 10


def paired_test(a: str, b: str, preds: dict[str, pd.DataFrame]) -> dict[str, Any]:
    pa, pb = preds[a], preds[b]
    if set(pa.index) != set(pb.index):
        raise ReportError(
            f"{a} and {b} were evaluated on different test images "
            f"({len(pa)} vs {len(pb)}; e.g. {sorted(set(pa.index) ^ set(pb.index))[:3]}): "
            "rerun their evaluate stages on the same layout"
        )
    a_correct = pa["correct"].to_numpy()
    b_correct = pb.loc[pa.index, "correct"].to_numpy()
    a_only, b_only, p = mcnemar_exact(a_correct, b_correct)
    better = a if a_only > b_only else b
    return {
        "a": a,
        "b": b,
        "n": len(a_correct),
        "accuracy_a": float(a_correct.mean()),
        "accuracy_b": float(b_correct.mean()),
        "only_a_correct": a_only,
        "only_b_correct": b_only,
        "p_value": p,
        "significant": p < ALPHA,
        "verdict": f"{better} better" if p < ALPHA else "no detectable difference",
    }


def confused_pairs(preds: dict[str, pd.DataFrame], top: int = TOP_CONFUSED) -> list[dict[str, Any]]:
    """Class pairs with the most mistakes either way, summed over the given models."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for model, frame in preds.items():
        wrong = frame[~frame["correct"]]
        for actual, predicted in zip(wrong["actual"], wrong["predicted"], strict=True):
            key = tuple(sorted((actual, predicted)))
            by_model = counts.setdefault(key, {})
            by_model[model] = by_model.get(model, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return [
        {"classes": list(key), "errors": sum(by_model.values()), "by_model": by_model}
        for key, by_model in ranked[:top]
    ]


def build(settings: ReportSettings, inputs: Inputs) -> dict[str, Any]:
    """The report's content (JSON-ready) from the files each model's evaluation wrote."""
    rows = []
    for model in settings.models:
        metrics, epochs = inputs.metrics[model.name], inputs.histories[model.name]
        rows.append(
            {
                "model": model.name,
                "task": model.task,
                "accuracy": metrics["accuracy"],
                "accuracy_ci_low": metrics["accuracy_ci_low"],
                "accuracy_ci_high": metrics["accuracy_ci_high"],
                "loss": metrics["loss"],
                "f1_macro": metrics["f1_macro"],
                "lr": model.lr,
                "params": int(metrics["params"]),
                "train_seconds": round(history.train_seconds(epochs), 3),
                "epochs": len(epochs),
                "images_per_s": metrics["images_per_s"],
                "latency_ms": metrics["latency_ms"],
                "n_test": int(metrics["n_test"]),
            }
        )
    tests = [paired_test(a, b, inputs.predictions) for a, b in settings.pairs]
    multiclass = {
        m.name: inputs.predictions[m.name] for m in settings.models if m.task == "multiclass"
    }
    return {
        "confidence": CONFIDENCE,
        "alpha": ALPHA,
        "models": rows,
        "paired_tests": tests,
        "confused_pairs": confused_pairs(multiclass),
    }

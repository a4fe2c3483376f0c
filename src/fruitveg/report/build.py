"""The report's content: what was measured, the study's comparison table with its
baselines, paired tests and confused classes.

Beside the table: each model's exact McNemar test against always answering the majority
class, and exact McNemar tests for the pairs of ReportSettings, on the same test images,
so a gap of one or two images is not read as a result; Holm-adjusted p-values beside the
raw ones, each table one family. Then the class pairs the multiclass models confuse most.
"""

from typing import Any

import pandas as pd

from fruitveg.core import evidence, history, paths, trained_with
from fruitveg.evaluation.paired import holm
from fruitveg.evaluation.plots import best_epoch
from fruitveg.evaluation.statistics import CONFIDENCE, mcnemar_exact
from fruitveg.report import lightening
from fruitveg.report.baselines import against_majority, chance_row, majority_label, majority_row
from fruitveg.report.inputs import Inputs, ReportError
from fruitveg.report.learning_speed import learning_speed
from fruitveg.report.settings import ReportSettings

ALPHA = 0.05
TOP_CONFUSED = 10
# Each model's metrics as evaluation wrote them.
COPIED = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "balanced_accuracy", "f1_macro",
    "f1_macro_ci_low", "f1_macro_ci_high", "loss", "ece", "images_per_s", "latency_ms",
)  # fmt: skip
# Counts of the audit report shown in the header when present, in this order. Reports of
# older audits lack some, so each is optional. copies_by_evidence is a count per kind of
# evidence (fruitveg.core.evidence); the others are whole numbers.
AUDIT_FACTS = {
    "duplicate_groups": "groups of copies in data/raw",
    "copies_by_evidence": "copies found",
    "leaked_test_images": "test images with a copy in train or validation",
    "validation_copies_of_train": "validation images that copy a training image",
    "test_duplicate_groups": "groups of near duplicates within test",
    "test_label_conflicts": "test images whose copies carry another label",
    "pairs_compared": "pairs of pictures compared closely",
}


def audit_facts(audit: dict[str, Any]) -> dict[str, Any]:
    """The AUDIT_FACTS that `audit` (its report) holds in their expected form."""

    def wellformed(k: str) -> bool:
        if k == "copies_by_evidence":
            return evidence.by_evidence(audit.get(k)) is not None
        return isinstance(audit.get(k), int)

    return {k: audit[k] for k in AUDIT_FACTS if wellformed(k)}


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
    return {
        "a": a,
        "b": b,
        "n": len(a_correct),
        "accuracy_a": float(a_correct.mean()),
        "accuracy_b": float(b_correct.mean()),
        "only_a_correct": a_only,
        "only_b_correct": b_only,
        "p_value": p,
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


def header(settings: ReportSettings, inputs: Inputs) -> dict[str, Any]:
    """What the numbers were measured on: data, its fingerprint, images and splits, and
    what each model was trained with beyond params.yaml (fruitveg.core.trained_with)."""
    layouts = inputs.layouts
    return {
        "data_source": settings.source,
        "data": settings.source_detail,
        "synthetic": settings.source == "synthetic",
        "raw_md5": inputs.raw.md5 if inputs.raw else None,
        "raw_files": inputs.raw.files if inputs.raw else None,
        "image_size": {task: layouts[task].get("image_size") for task in layouts},
        "images_per_split": {
            task: {split: sum(s["counts"][split].values()) for split in paths.SPLITS}
            for task, s in layouts.items()
        },
        "removed_copies_of_test": {
            task: s.get("removed_duplicates_of_test") for task, s in layouts.items()
        },
        "removed_copies_of_train": {
            task: s.get("removed_copies_of_train") for task, s in layouts.items()
        },
        "audit": audit_facts(inputs.audit),
        "placeholder_backbones": [m.name for m in settings.models if m.placeholder],
        "trained_with": {
            m.name: inputs.metrics[m.name].get(trained_with.KEY) for m in settings.models
        },
    }


def _with_holm(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each test (in place) with its Holm-adjusted p-value over the family `tests`."""
    for t, adjusted in zip(tests, holm([t["p_value"] for t in tests]), strict=True):
        t["p_holm"] = adjusted
    return tests


def build(settings: ReportSettings, inputs: Inputs) -> dict[str, Any]:
    """The report's content (JSON-ready) from the files each model's evaluation wrote."""
    tasks = list(dict.fromkeys(m.task for m in settings.models))  # params.yaml's order
    majority = {task: majority_label(inputs.layouts[task]) for task in tasks}
    rows = []
    for model in settings.models:
        metrics, epochs = inputs.metrics[model.name], inputs.histories[model.name]
        rows.append(
            {
                "model": model.name,
                "task": model.task,
                "weights": model.weights or "none",
                "best_epoch": best_epoch(epochs),
                "epochs": len(epochs),
                **{k: metrics.get(k) for k in COPIED},
                "lr": model.lr,
                "params": int(metrics["params"]),
                "train_seconds": round(history.train_seconds(epochs), 3),
                "n_test": int(metrics["n_test"]),
                "against_majority": against_majority(
                    inputs.predictions[model.name], majority[model.task]
                ),
            }
        )
    _with_holm([r["against_majority"] for r in rows])  # one family: every model
    baselines = []
    for task in tasks:
        first = next(m.name for m in settings.models if m.task == task)
        actual = inputs.predictions[first]["actual"]
        layout = inputs.layouts[task]
        baselines += [majority_row(task, layout, actual), chance_row(task, layout, actual)]
    tests = _with_holm([paired_test(a, b, inputs.predictions) for a, b in settings.pairs])
    for t in tests:
        better = t["a"] if t["only_a_correct"] > t["only_b_correct"] else t["b"]
        t["significant"] = t["p_holm"] < ALPHA
        t["verdict"] = f"{better} better" if t["significant"] else "no detectable difference"
    multiclass = {
        m.name: inputs.predictions[m.name] for m in settings.models if m.task == "multiclass"
    }
    return {
        "header": header(settings, inputs),
        "confidence": CONFIDENCE,
        "alpha": ALPHA,
        "models": rows,
        "baselines": baselines,
        "paired_tests": tests,
        "learning_speed": learning_speed(settings.pairs, inputs.histories),
        "confused_pairs": confused_pairs(multiclass),
        "lightening": lightening.rows(settings.models, inputs.exports),
    }

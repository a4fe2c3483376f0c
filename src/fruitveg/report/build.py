"""The study's comparison table, regenerated from the evaluation outputs.

For every model it reads metrics/eval/<model>.json, the per-image predictions beside it
and plots/history/<model>.csv. Beside the table: exact McNemar tests for the pairs the
study compared, on the same test images, so a gap of one or two images is not read as a
result; and the class pairs the models confuse most.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
from scipy import stats

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_file, write_json
from fruitveg.core.errors import PipelineError
from fruitveg.evaluation import evaluate as evaluation

REPORT_JSON = paths.METRICS / "report.json"
REPORT_MD = paths.METRICS / "report.md"
REPORT_PLOTS = paths.PLOTS / "report"
ALPHA = 0.05
TOP_CONFUSED = 10
ATTENTION_SUFFIX = "_attention"
METRIC_KEYS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "loss", "f1_macro", "params",
    "images_per_s", "latency_ms", "n_test",
)  # fmt: skip
BACKBONE_PAIRS = (("cnn", "vgg16"), ("cnn", "resnet50"))  # the CNN against the backbones


class ReportError(PipelineError):
    """An input of the report is missing or inconsistent; the message names it."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    task: str
    lr: float


def study_pairs(models: list[str]) -> list[tuple[str, str]]:
    """Each model against its attention variant, then the CNN against the backbones."""
    pairs = [(m, m + ATTENTION_SUFFIX) for m in models if m + ATTENTION_SUFFIX in models]
    return pairs + [(a, b) for a, b in BACKBONE_PAIRS if a in models and b in models]


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on paired outcomes: (only A right, only B right, two-sided p).

    Under the null hypothesis the discordant images split evenly between the two models,
    so the count of 'only A right' among them is Binomial(discordant, 1/2).
    """
    a_correct, b_correct = np.asarray(a_correct, bool), np.asarray(b_correct, bool)
    a_only = int(np.sum(a_correct & ~b_correct))
    b_only = int(np.sum(~a_correct & b_correct))
    if a_only + b_only == 0:
        return 0, 0, 1.0
    return a_only, b_only, float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def training_seconds(history: pd.DataFrame, source: Path) -> float:
    """Sum of the epochs' durations (a resumed run's pause is not training time)."""
    try:
        start = pd.to_datetime(history["start_time"], utc=True, format="ISO8601")
        end = pd.to_datetime(history["end_time"], utc=True, format="ISO8601")
    except (KeyError, ValueError) as exc:
        raise ReportError(f"{source}: start_time/end_time missing or not ISO-8601: {exc}") from None
    return float((end - start).dt.total_seconds().sum())


def read_metrics(model: str) -> dict[str, Any]:
    path = evaluation.metrics_json(model)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; run evaluate@{model} first (dvc repro)") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc}") from None
    missing = [k for k in METRIC_KEYS if not isinstance(metrics.get(k), int | float)]
    if missing:
        raise ReportError(f"{path}: missing or non-numeric {', '.join(missing)}")
    return metrics


def read_predictions(model: str) -> pd.DataFrame:
    path = evaluation.predictions_csv(model)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; run evaluate@{model} first (dvc repro)") from None
    missing = {"path", "actual", "predicted"} - set(frame.columns)
    if missing:
        raise ReportError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["correct"] = frame["actual"] == frame["predicted"]
    return frame.set_index("path")


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


def build(models: list[ModelInfo]) -> dict[str, Any]:
    """The report's content from the files each model's evaluation wrote."""
    if not models:
        raise ReportError("params.yaml: no models under 'models'")
    rows, preds = [], {}
    for info in models:
        metrics = read_metrics(info.name)
        history_path = paths.history_csv(info.name)
        history = evaluation.read_history(history_path)
        rows.append(
            {
                "model": info.name,
                "task": info.task,
                "accuracy": metrics["accuracy"],
                "accuracy_ci_low": metrics["accuracy_ci_low"],
                "accuracy_ci_high": metrics["accuracy_ci_high"],
                "loss": metrics["loss"],
                "f1_macro": metrics["f1_macro"],
                "lr": info.lr,
                "params": int(metrics["params"]),
                "train_seconds": round(training_seconds(history, history_path), 3),
                "epochs": len(history),
                "images_per_s": metrics["images_per_s"],
                "latency_ms": metrics["latency_ms"],
                "n_test": int(metrics["n_test"]),
            }
        )
        preds[info.name] = read_predictions(info.name)
    tasks = {info.name: info.task for info in models}
    tests = []
    for a, b in study_pairs([info.name for info in models]):
        if tasks[a] != tasks[b]:
            raise ReportError(f"params.yaml: {a} ({tasks[a]}) and {b} ({tasks[b]}) differ in task")
        tests.append(paired_test(a, b, preds))
    multiclass = {m: f for m, f in preds.items() if tasks[m] == "multiclass"}
    return {
        "confidence": evaluation.CONFIDENCE,
        "alpha": ALPHA,
        "models": rows,
        "paired_tests": tests,
        "confused_pairs": confused_pairs(multiclass),
    }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _lr(value: float) -> str:
    return np.format_float_scientific(value, trim="-", exp_digits=1)


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def to_markdown(report: dict[str, Any]) -> str:
    conf = round(100 * report["confidence"])
    lines = [
        "# Model comparison",
        "",
        f"Test accuracy with its {conf} % percentile-bootstrap interval over the test images. "
        "Training time is the sum of the epochs' durations; inference speed is measured in "
        "the evaluation run, on whatever machine ran it.",
        "",
        f"| model | task | test accuracy % ({conf} % CI) | loss | macro F1 | learning rate "
        "| parameters | epochs | training time | inference images/s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["models"]:
        lines.append(
            f"| {r['model']} | {r['task']} | {_pct(r['accuracy'])} "
            f"({_pct(r['accuracy_ci_low'])}-{_pct(r['accuracy_ci_high'])}) | {r['loss']:.4f} "
            f"| {r['f1_macro']:.4f} | {_lr(r['lr'])} | {r['params']:,} | {r['epochs']} "
            f"| {_duration(r['train_seconds'])} | {_rate(r['images_per_s'])} |"
        )
    sizes = sorted({(r["task"], r["n_test"]) for r in report["models"]})
    one_image = "; ".join(
        f"{task}: {n} images, one image = {100 / n:.2f} points" for task, n in sizes
    )
    lines += ["", f"Test sets: {one_image}.", ""]
    if report["paired_tests"]:
        lines += [
            "## Paired tests on the same test images",
            "",
            f"Exact McNemar test (two-sided, α = {report['alpha']}, not corrected for the "
            "number of comparisons): only the images on which exactly one of the two models "
            "is right tell them apart.",
            "",
            "| model A | model B | accuracy A % | accuracy B % | A − B, points "
            "| only A right | only B right | p-value | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for t in report["paired_tests"]:
            lines.append(
                f"| {t['a']} | {t['b']} | {_pct(t['accuracy_a'])} | {_pct(t['accuracy_b'])} "
                f"| {100 * (t['accuracy_a'] - t['accuracy_b']):+.2f} | {t['only_a_correct']} "
                f"| {t['only_b_correct']} | {t['p_value']:.3g} | {t['verdict']} |"
            )
        lines.append("")
    if report["confused_pairs"]:
        lines += [
            "## Most confused class pairs (mistakes either way, all 36-class models)",
            "",
            "| classes | mistakes | by model |",
            "|---|---:|---|",
        ]
        for c in report["confused_pairs"]:
            by_model = ", ".join(f"{m} {n}" for m, n in c["by_model"].items())
            lines.append(f"| {c['classes'][0]} ↔ {c['classes'][1]} | {c['errors']} | {by_model} |")
        lines.append("")
    return "\n".join(lines)


def plot_accuracy(rows: list[dict[str, Any]], target: Path) -> None:
    """Accuracy of every model with its interval, the study's order from the top."""
    fig = Figure(figsize=(8, 0.55 * len(rows) + 1.5), dpi=100)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    acc = np.array([100 * r["accuracy"] for r in rows])
    err = np.array(
        [
            [a - 100 * r["accuracy_ci_low"], 100 * r["accuracy_ci_high"] - a]
            for a, r in zip(acc, rows, strict=True)
        ]
    ).T
    colours = ["tab:orange" if r["task"] == "binary" else "tab:blue" for r in rows]
    ax.errorbar(acc, y, xerr=err, fmt="none", ecolor="grey", capsize=4)
    ax.scatter(acc, y, c=colours, zorder=3)
    for a, yy in zip(acc, y, strict=True):
        ax.annotate(f"{a:.2f}", (a, yy), textcoords="offset points", xytext=(0, 7), ha="center")
    ax.set_yticks(y, [f"{r['model']} ({r['task']})" for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.2)  # room for the top label under the title
    ax.set_xlabel(f"test accuracy, % ({round(100 * evaluation.CONFIDENCE)} % bootstrap interval)")
    ax.set_title("Test accuracy by model")
    ax.grid(axis="x", alpha=0.3)
    evaluation.save_png(fig, target)


def plot_cost(rows: list[dict[str, Any]], target: Path) -> None:
    """Accuracy against the time to classify one image; marker area follows parameter count."""
    fig = Figure(figsize=(8, 5.5), dpi=100)
    ax = fig.subplots()
    params = np.array([r["params"] for r in rows], dtype=float)
    sizes = 30 + 400 * np.sqrt(params / params.max())
    for r, size in zip(rows, sizes, strict=True):
        a = 100 * r["accuracy"]
        err = [[a - 100 * r["accuracy_ci_low"]], [100 * r["accuracy_ci_high"] - a]]
        colour = "tab:orange" if r["task"] == "binary" else "tab:blue"
        ax.errorbar(r["latency_ms"], a, yerr=err, fmt="none", ecolor="grey", capsize=3)
        ax.scatter(r["latency_ms"], a, s=size, color=colour, alpha=0.6, zorder=3)
        ax.annotate(r["model"], (r["latency_ms"], a), textcoords="offset points", xytext=(6, 6))
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.15, y=0.1)
    ax.set_xlabel("inference latency per image, ms (log scale)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title("Accuracy against inference cost (marker area ~ parameters)")
    ax.grid(alpha=0.3, which="both")
    evaluation.save_png(fig, target)


def write(report: dict[str, Any]) -> None:
    REPORT_PLOTS.mkdir(parents=True, exist_ok=True)
    plot_accuracy(report["models"], REPORT_PLOTS / "accuracy.png")
    plot_cost(report["models"], REPORT_PLOTS / "accuracy_vs_cost.png")
    with atomic_file(REPORT_MD) as fh:
        fh.write(to_markdown(report))
    write_json(REPORT_JSON, report)

"""The report's lightening section: every model in every TFLite format beside its Keras
model (rows from metrics/export/<model>.json, which export@<model> measured in one run),
as a table and as a picture of accuracy against file size."""

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fruitveg.core.model_config import ModelConfig
from fruitveg.evaluation.files import save_png
from fruitveg.report.figures import log_x

# export's rows, in its order; the marker each format has in the picture
MARKERS = {"keras": "o", "float32": "s", "float16": "^", "dynamic_int8": "D", "int8": "v"}
COPIED = (
    "format", "status", "reason", "size_bytes", "size_ratio", "accuracy", "accuracy_ci_low",
    "accuracy_ci_high", "change_points", "p_value", "agreement", "latency_ms",
    "latency_ratio", "images_per_s",
)  # fmt: skip


def rows(models: tuple[ModelConfig, ...], exports: dict[str, dict[str, Any]]) -> list[dict]:
    """One row per model and format, models in params.yaml's order."""
    out = []
    for m in models:
        export = exports[m.name]
        if "skipped" in export:
            out.append({"model": m.name, "format": None, "status": "skipped",
                        "reason": export["skipped"]})  # fmt: skip
            continue
        for r in export["formats"]:
            out.append(
                {"model": m.name, "n_test": export["n_test"], "threads": export["threads"]}
                | {k: r.get(k) for k in COPIED}
            )
    return out


def _num(value: float | None, form: str) -> str:
    return "" if value is None else format(value, form)


def markdown_lines(report: dict[str, Any]) -> list[str]:
    skipped = [r["model"] for r in report["lightening"] if r["status"] == "skipped"]
    table = [r for r in report["lightening"] if r["status"] != "skipped"]
    if not table:
        return [
            "## Lightening: TensorFlow Lite formats",
            "",
            f"No model exported (`export.archs`); left out: {', '.join(skipped)}.",
            "",
        ]
    threads = "/".join(str(t) for t in sorted({r["threads"] for r in table}))
    lines = [
        "## Lightening: TensorFlow Lite formats",
        "",
        "Each trained model converted to TFLite (float32; float16 weights; dynamic-range "
        "int8: int8 weights, float activations; full-integer int8, calibrated on a seeded "
        "sample of the training layout) and scored on the same test images as its Keras "
        "model, in the same run: size against the Keras file, accuracy with its exact "
        "interval, the change in points and the exact McNemar p-value against the Keras "
        "model, the share of images on which both predict the same class, median latency "
        f"of one image and throughput in batches (LiteRT interpreter, {threads} "
        "threads; Keras with TensorFlow's own threads). `failed`: the converter or the "
        "interpreter refused that format (the reason is in metrics/report.json); "
        "`collapsed`: accuracy fell more than `export.collapse_points` below Keras'.",
        "",
        "| model | format | size MB | size × Keras | test accuracy % (95 % CI) "
        "| change, points | p vs Keras | agreement % | latency ms | latency × Keras "
        "| images/s | status |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in table:
        if r["status"] == "failed":
            lines.append(f"| {r['model']} | {r['format']} | | | | | | | | | | failed |")
            continue
        acc = (
            f"{100 * r['accuracy']:.2f} ({100 * r['accuracy_ci_low']:.2f}-"
            f"{100 * r['accuracy_ci_high']:.2f})"
        )
        keras = r["format"] == "keras"  # the reference: no change, no test against itself
        change = "" if keras else _num(r["change_points"], "+.2f")
        p = "" if keras else _num(r["p_value"], ".3g")
        lines.append(
            f"| {r['model']} | {r['format']} | {r['size_bytes'] / 1e6:.2f} "
            f"| {r['size_ratio']:.3f} | {acc} | {change} "
            f"| {p} | {100 * r['agreement']:.1f} "
            f"| {r['latency_ms']:.2f} | {r['latency_ratio']:.2f} | {r['images_per_s']:,.0f} "
            f"| {r['status']} |"
        )
    if skipped:
        left_out = ", ".join(skipped)
        lines += ["", f"Not exported in this configuration (`export.archs`): {left_out}."]
    return [*lines, ""]


def plot(table: list[dict[str, Any]], target: Path) -> None:
    """Accuracy against file size (log scale): a colour per model, a marker per format, a
    line through each model's formats; collapsed formats drawn hollow."""
    table = [r for r in table if r["status"] in ("ok", "collapsed")]
    fig = Figure(figsize=(9, 6), dpi=100)
    ax = fig.subplots()
    models = list(dict.fromkeys(r["model"] for r in table))
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}
    for m in models:
        done = sorted(
            (r for r in table if r["model"] == m),
            key=lambda r: r["size_bytes"],
        )
        if not done:
            continue
        size = np.array([r["size_bytes"] / 1e6 for r in done])
        acc = np.array([100 * r["accuracy"] for r in done])
        ax.plot(size, acc, color=colours[m], alpha=0.4, zorder=1)
        for r, x, y in zip(done, size, acc, strict=True):
            hollow = r["status"] == "collapsed"
            ax.scatter(
                x, y, marker=MARKERS.get(r["format"], "o"), s=60, zorder=3,
                facecolors="none" if hollow else colours[m], edgecolors=colours[m],
            )  # fmt: skip
    log_x(ax)
    ax.margins(x=0.1, y=0.1)
    ax.set_xlabel("file size, MB (log scale)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title("Accuracy against file size, every model in every format")
    ax.grid(alpha=0.3, which="both")
    by_model = [Line2D([], [], color=colours[m], marker="o", label=m) for m in models]
    by_format = [
        Line2D([], [], color="grey", marker=mk, linestyle="none", label=f)
        for f, mk in MARKERS.items()
    ]
    # Beside the axes, not on them: the points of a model sit anywhere in the plane.
    first = ax.legend(handles=by_model, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                      title="model")  # fmt: skip
    ax.add_artist(first)
    ax.legend(handles=by_format, loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8,
              title="format")  # fmt: skip
    save_png(fig, target)

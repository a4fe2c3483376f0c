"""plots/report/*.png: every model's accuracy with its interval, and accuracy against cost."""

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from fruitveg.evaluation.files import save_png
from fruitveg.evaluation.statistics import CONFIDENCE


def log_x(ax: Axes) -> None:
    """A log-scale x axis labelled 1, 2, 5, 10, 20, ... in plain numbers."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_accuracy(
    rows: list[dict[str, Any]], baselines: list[dict[str, Any]], target: Path
) -> None:
    """Accuracy of every model with its interval, the study's order from the top, and
    each task's majority-class accuracy as a dashed line in the task's colour."""
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
    for b in (b for b in baselines if b["baseline"] == "majority"):
        colour = "tab:orange" if b["task"] == "binary" else "tab:blue"
        label = f"{b['task']}: always {b['label']} ({100 * b['accuracy']:.2f})"
        ax.axvline(100 * b["accuracy"], color=colour, linestyle="--", alpha=0.6, label=label)
    ax.errorbar(acc, y, xerr=err, fmt="none", ecolor="grey", capsize=4)
    ax.scatter(acc, y, c=colours, zorder=3)
    for a, yy in zip(acc, y, strict=True):
        ax.annotate(f"{a:.2f}", (a, yy), textcoords="offset points", xytext=(0, 7), ha="center")
    ax.set_yticks(y, [f"{r['model']} ({r['task']})" for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.2)  # room for the top label under the title
    ax.set_xlabel(f"test accuracy, % ({round(100 * CONFIDENCE)} % exact interval)")
    ax.set_title("Test accuracy by model")
    if baselines:
        ax.legend(loc="best", fontsize=8, title="majority class", title_fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    save_png(fig, target)


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
    log_x(ax)
    ax.margins(x=0.15, y=0.1)
    ax.set_xlabel("inference latency per image, ms (log scale)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title("Accuracy against inference cost (marker area ~ parameters)")
    ax.grid(alpha=0.3, which="both")
    save_png(fig, target)

"""plots/explain/: each model's Grad-CAM grid and each attention model's block in numbers."""

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

from fruitveg.evaluation.files import save_png
from fruitveg.explain.attention import LOG_EDGES, AttentionNumbers, Scale
from fruitveg.explain.examples import Example

COLUMNS = 4  # examples per row; each is the image and its heatmap side by side
HEAT_ALPHA = 0.5


def plot_gradcam(
    images: np.ndarray,
    heatmaps: np.ndarray,
    examples: list[Example],
    labels: list[str],
    title: str,
    target: Path,
) -> None:
    """For each example, the test image and the heatmap of the predicted class over it;
    green titles for right answers, red for mistakes (actual -> predicted)."""
    rows = max(1, math.ceil(len(examples) / COLUMNS))
    fig = Figure(figsize=(2 * 1.6 * COLUMNS, 1.9 * rows + 0.6), dpi=100)
    axes = fig.subplots(rows, 2 * COLUMNS, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for k, (ex, heat) in enumerate(zip(examples, heatmaps, strict=True)):
        row, col = divmod(k, COLUMNS)
        picture, overlay = axes[row, 2 * col], axes[row, 2 * col + 1]
        image = images[ex.index]
        picture.imshow(image)
        overlay.imshow(image)
        overlay.imshow(heat, cmap="jet", alpha=HEAT_ALPHA, vmin=0, vmax=1)
        colour = "tab:green" if ex.right else "tab:red"
        name = labels[ex.actual] if ex.right else f"{labels[ex.actual]} →"
        picture.set_title(name, fontsize=8, color=colour)
        overlay.set_title(f"{labels[ex.predicted]} {ex.confidence:.2f}", fontsize=8, color=colour)
    if not examples:
        axes[0, 0].text(0, 0.5, "no test images to show", fontsize=10)
    fig.suptitle(title, fontsize=10)
    save_png(fig, target)


def _log_histogram(ax, scale: Scale, label: str, colour: str) -> None:
    fractions = scale.log_counts / max(scale.n, 1)
    s = scale.summary()
    ax.stairs(
        fractions,
        LOG_EDGES,
        color=colour,
        label=f"{label}: rms {s['rms']:.3g}, zeros {100 * s['zero_fraction']:.0f} %",
    )


def plot_attention(model: str, plain: str | None, m: AttentionNumbers, target: Path) -> None:
    """Three panels: the channel weights over the test set; each channel's weight across
    images (channels by mean weight); the feature values before and after the block and,
    if paired, at the same place of the model without it."""
    fig = Figure(figsize=(15, 4.5), dpi=100, layout="constrained")
    weights_ax, channel_ax, scale_ax = fig.subplots(1, 3)
    n, channels = m.weights.shape

    weights_ax.hist(m.weights.ravel(), bins=50, range=(0, 1), color="tab:purple")
    weights_ax.set_xlabel("channel weight")
    weights_ax.set_ylabel("count (images × channels)")
    weights_ax.set_title(f"channel weights: {n} test images × {channels} channels")

    order = np.argsort(m.weights.mean(axis=0))
    low, high = np.quantile(m.weights[:, order], [0.05, 0.95], axis=0)
    x = np.arange(channels)
    channel_ax.fill_between(x, low, high, color="tab:purple", alpha=0.3, label="5-95 % of images")
    channel_ax.plot(x, m.weights[:, order].mean(axis=0), color="tab:purple", label="mean")
    channel_ax.set_ylim(0, 1)
    channel_ax.set_xlabel("channel (by mean weight)")
    channel_ax.set_ylabel("weight")
    channel_ax.set_title("each channel's weight across images")
    channel_ax.legend(fontsize=8, loc="upper left")

    _log_histogram(scale_ax, m.before, "before the block", "tab:blue")
    _log_histogram(scale_ax, m.after, "after the block", "tab:orange")
    if m.paired is not None:
        _log_histogram(scale_ax, m.paired, f"{plain}, same place", "tab:green")
    used = [s.log_counts for s in (m.before, m.after, m.paired) if s is not None]
    bins = np.flatnonzero(np.sum(used, axis=0))
    if len(bins):
        scale_ax.set_xlim(LOG_EDGES[bins[0]] - 0.25, LOG_EDGES[bins[-1] + 1] + 0.25)
    scale_ax.set_xlabel("log10 |feature value| (non-zero values)")
    scale_ax.set_ylabel("fraction of all values")
    scale_ax.set_title("feature values the head reads")
    scale_ax.legend(fontsize=8, loc="upper left")
    paired = f" beside {plain}" if plain else " (no model without it in params.yaml)"
    fig.suptitle(f"{model}: its attention block over the test set{paired}", fontsize=11)
    save_png(fig, target)

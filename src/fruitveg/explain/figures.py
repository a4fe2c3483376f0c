"""plots/explain/: each model's Grad-CAM grid and each attention model's block in numbers."""

import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

from fruitveg.evaluation.files import save_png
from fruitveg.explain.attention import LOG_EDGES, AttentionNumbers, Scale
from fruitveg.explain.examples import Example

COLUMNS = 4  # examples per row; each is the image and its heatmap side by side
HEAT_ALPHA = 0.5
TILE_INCHES = 1.45  # shown size of one image, whatever its pixel size


def overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The heatmap in the 'jet' colours over the image, as RGB floats in [0, 1]."""
    colours = colormaps["jet"](heat)[..., :3]
    return (1 - HEAT_ALPHA) * image / 255.0 + HEAT_ALPHA * colours


def plot_gradcam(
    images: np.ndarray,
    heatmaps: np.ndarray,
    examples: list[Example],
    labels: list[str],
    title: str,
    target: Path,
) -> None:
    """For each example (images[i] is examples[i]'s), the test image and the heatmap of the
    predicted class over it; green labels for right answers, red for mistakes (actual ->
    predicted). Drawn as one picture of tiles: one image artist, not two axes per example,
    which made this the slowest part of the stage."""
    height, width = images.shape[1:3] if len(images) else (64, 64)
    gap, space, band = max(2, width // 16), width // 4, round(0.32 * height)
    pair = 2 * width + gap
    columns = min(COLUMNS, max(len(examples), 1))
    rows = max(1, math.ceil(len(examples) / COLUMNS))
    canvas = np.ones((rows * (height + band), columns * pair + (columns - 1) * space, 3))
    fig = Figure(
        figsize=(canvas.shape[1] / width * TILE_INCHES, canvas.shape[0] / height * TILE_INCHES),
        dpi=100,
    )
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    for k, (ex, image, heat) in enumerate(zip(examples, images, heatmaps, strict=True)):
        row, col = divmod(k, COLUMNS)
        top, left = row * (height + band) + band, col * (pair + space)
        canvas[top : top + height, left : left + width] = image / 255.0
        canvas[top : top + height, left + width + gap : left + pair] = overlay(image, heat)
        colour = "tab:green" if ex.right else "tab:red"
        said = f"{labels[ex.predicted]} ({ex.confidence:.2f})"
        text = said if ex.right else f"{labels[ex.actual]} → {said}"
        ax.text(left + pair / 2, top - 2, text, ha="center", va="bottom", fontsize=8, color=colour)
    ax.imshow(canvas)
    if not examples:
        ax.text(width, height / 2, "no test images to show", ha="center", fontsize=10)
    fig.suptitle(title, fontsize=10, y=1.0, va="bottom")
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
    fig = Figure(figsize=(12.5, 4.2), dpi=100, layout="constrained")  # fits DVC's page
    weights_ax, channel_ax, scale_ax = fig.subplots(1, 3)
    n, channels = m.weights.shape

    weights_ax.hist(m.weights.ravel(), bins=50, range=(0, 1), color="tab:purple")
    weights_ax.set_xlabel("channel weight")
    weights_ax.set_ylabel("count (images × channels)")
    weights_ax.set_title(f"channel weights: {n} images × {channels} channels", fontsize=10)

    order = np.argsort(m.weights.mean(axis=0))
    low, high = np.quantile(m.weights[:, order], [0.05, 0.95], axis=0)
    x = np.arange(channels)
    channel_ax.fill_between(x, low, high, color="tab:purple", alpha=0.3, label="5-95 % of images")
    channel_ax.plot(x, m.weights[:, order].mean(axis=0), color="tab:purple", label="mean")
    channel_ax.set_ylim(0, 1)
    channel_ax.set_xlabel("channel (by mean weight)")
    channel_ax.set_ylabel("weight")
    channel_ax.set_title("each channel's weight across images", fontsize=10)
    channel_ax.legend(fontsize=8, loc="upper left")

    _log_histogram(scale_ax, m.before, "before the block", "tab:blue")
    _log_histogram(scale_ax, m.after, "after its channel weights", "tab:orange")
    if m.paired is not None:
        _log_histogram(scale_ax, m.paired, f"{plain}, same place", "tab:green")
    shown = [s for s in (m.before, m.after, m.paired) if s is not None]
    bins = np.flatnonzero(np.sum([s.log_counts for s in shown], axis=0))
    if len(bins):
        scale_ax.set_xlim(LOG_EDGES[bins[0]] - 0.25, LOG_EDGES[bins[-1] + 1] + 0.25)
        top = max(float(s.log_counts.max()) / max(s.n, 1) for s in shown)
        scale_ax.set_ylim(0, 1.35 * top)  # room for the legend above the curves
    scale_ax.set_xlabel("log10 |feature value| (non-zero values)")
    scale_ax.set_ylabel("fraction of all values")
    scale_ax.set_title("feature values at the block", fontsize=10)
    scale_ax.legend(fontsize=8, loc="upper left")
    paired = f" beside {plain}" if plain else " (no model without it in params.yaml)"
    fig.suptitle(f"{model}: its attention block over the test set{paired}", fontsize=11)
    save_png(fig, target)

"""What a channel-attention block does over the test set: the weights it gives each
channel, and the scale of the feature map before and after it, beside the same map of the
model without the block.

The block is found from the structure (channel_gate): the first layer that multiplies a
spatial map by one weight per channel, i.e. the SE block's scale (or CBAM's channel step).
In the model without it, the same place is the map its head reads (gradcam.head_input),
which is where the other model's block sits. fruitveg.explain.probe records both in the one
pass each model makes over the test images.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from fruitveg.explain.gradcam import ExplainError

# Feature magnitudes are histogrammed in log10 space: from 1e-6 to 1e4, 20 bins a decade.
LOG_EDGES = np.linspace(-6.0, 4.0, 201)
WEIGHT_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class ChannelGate:
    before: Any  # (batch, h, w, channels): the map the block scales
    weights: Any  # (batch, 1, 1, channels): its weight per channel, in (0, 1) for SE
    after: Any  # before * weights: what the rest of the model reads


def channel_gate(model: Any) -> ChannelGate:
    """The model's first Multiply of a spatial map by per-channel weights."""
    import keras

    for layer in model.layers:
        if not isinstance(layer, keras.layers.Multiply) or len(layer.input) != 2:
            continue
        a, b = layer.input
        if len(a.shape) != 4 or len(b.shape) != 4 or a.shape[-1] != b.shape[-1]:
            continue
        # Weights are (1, 1, C); our blocks pass them second, which settles a 1x1 map.
        if tuple(b.shape[1:3]) == (1, 1):
            return ChannelGate(a, b, layer.output)
        if tuple(a.shape[1:3]) == (1, 1):
            return ChannelGate(b, a, layer.output)
    raise ExplainError(
        f"model {model.name!r}: no layer scales a feature map by per-channel weights "
        "(a squeeze-and-excitation block), so there are no attention weights to show"
    )


class Scale:
    """Running statistics of every value of a feature map over many images, in one pass
    (the maps of a study-sized run do not all fit in memory at once)."""

    def __init__(self) -> None:
        self.n = self.zeros = self.negative = 0
        self.total = self.squares = 0.0
        self.largest = 0.0
        self.log_counts = np.zeros(len(LOG_EDGES) - 1, dtype=np.int64)
        self.image_rms: list[np.ndarray] = []

    def add(self, maps: np.ndarray) -> None:
        values = np.asarray(maps, dtype=np.float64)
        self.n += values.size
        self.total += float(values.sum())
        self.squares += float(np.square(values).sum())
        self.largest = max(self.largest, float(np.abs(values).max(initial=0.0)))
        self.zeros += int((values == 0).sum())
        self.negative += int((values < 0).sum())
        magnitude = np.abs(values[values != 0])
        self.log_counts += np.histogram(np.log10(magnitude), bins=LOG_EDGES)[0]
        self.image_rms.append(np.sqrt(np.square(values).mean(axis=(1, 2, 3))))

    def rms_per_image(self) -> np.ndarray:
        return np.concatenate(self.image_rms) if self.image_rms else np.zeros(0)

    def summary(self) -> dict[str, float]:
        per_image = self.rms_per_image()
        return {
            "mean": self.total / self.n,
            "rms": float(np.sqrt(self.squares / self.n)),
            "max_abs": self.largest,
            "zero_fraction": self.zeros / self.n,
            "negative_fraction": self.negative / self.n,
            "image_rms_median": float(np.median(per_image)),
            "image_rms_p05": float(np.quantile(per_image, 0.05)),
            "image_rms_p95": float(np.quantile(per_image, 0.95)),
        }


@dataclass(frozen=True)
class AttentionNumbers:
    weights: np.ndarray  # (images, channels)
    before: Scale
    after: Scale
    paired: Scale | None  # the same place in the model without the block
    shapes: dict[str, list[int]]  # (h, w, channels) of before and, if any, of paired


def weight_summary(weights: np.ndarray) -> dict[str, float]:
    """Distribution of the channel weights over images and channels; `image_std_mean` is
    the mean over channels of a channel's spread across images (0: the block gives every
    image the same weights, i.e. a fixed rescaling of the channels)."""
    quantiles = np.quantile(weights, WEIGHT_QUANTILES)
    return {
        "mean": float(weights.mean()),
        "std": float(weights.std()),
        "min": float(weights.min()),
        "max": float(weights.max()),
        **{
            f"p{round(100 * q):02d}": float(v)
            for q, v in zip(WEIGHT_QUANTILES, quantiles, strict=True)
        },
        "below_0.1": float((weights < 0.1).mean()),
        "above_0.9": float((weights > 0.9).mean()),
        "image_std_mean": float(weights.std(axis=0).mean()),
        "channel_mean_std": float(weights.mean(axis=0).std()),
    }


def numbers(model: str, plain: str | None, m: AttentionNumbers) -> dict[str, Any]:
    """One attention model's entry of metrics/explain/attention.json."""
    before, after = m.before.summary(), m.after.summary()
    entry: dict[str, Any] = {
        "model": model,
        "paired_with": plain,
        "images": int(m.weights.shape[0]),
        "channels": int(m.weights.shape[1]),
        "shapes": m.shapes,
        "weights": weight_summary(m.weights),
        "features": {"before": before, "after": after},
        "after_over_before_rms": after["rms"] / before["rms"] if before["rms"] else None,
    }
    if m.paired is not None:
        paired = m.paired.summary()
        entry["features"]["paired"] = paired
        entry["before_over_paired_rms"] = before["rms"] / paired["rms"] if paired["rms"] else None
    return entry

"""The export stage's settings, read once from params.yaml, all checked.

The export stage builds an ExportSettings at its entry point; the rest of the step takes
that object and never sees the params dict. Every error names the setting at fault.
"""

import os
from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.model_config import ARCHS, ModelConfig, model_config


def cores() -> int:
    """CPU cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ExportSettings:
    """Which model, params.yaml's `export:` block, evaluate's threshold and the seed."""

    model: ModelConfig
    enabled: bool = True  # its arch is in export.archs; else it is recorded as skipped
    calibration_images: int = 32  # seeded sample of the training layout (full-integer int8)
    latency_images: int = 20  # single-image latency: median over this many test images
    batch_size: int = 64  # throughput is timed at this batch size
    threads: int = 0  # interpreter threads; 0: every core this process may use
    collapse_points: float = 5.0  # a format this many points below Keras is marked collapsed
    threshold: float = 0.5  # binary models: evaluate's threshold, so predictions compare
    seed: int = 42  # of the calibration sample

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def interpreter_threads(self) -> int:
        return self.threads or cores()


def exported_archs(params: dict[str, Any]) -> tuple[str, ...]:
    """export.archs: `all`, or a list of architectures (cnn, vgg16, resnet50).

    By architecture, not by model name: the cost of a conversion follows the network's
    size, a new model of a listed architecture is exported with no other edit, and a
    configuration that drops models from `models:` needs no change here.
    """
    key = "export.archs"
    value = P.get(params, key)
    if value == "all":
        return ARCHS
    if not (isinstance(value, list) and all(v in ARCHS for v in value)):
        raise P.ParamError(
            f"params.yaml: '{key}' must be all or a list of {', '.join(ARCHS)}; got {value!r}"
        )
    return tuple(value)


def export_settings(params: dict[str, Any], model: str) -> ExportSettings:
    """Settings of export@<model>; an unknown model is refused by model_config."""
    config = model_config(params, model)
    return ExportSettings(
        model=config,
        enabled=config.arch in exported_archs(params),
        calibration_images=P.whole(params, "export.calibration_images"),
        latency_images=P.whole(params, "export.latency_images"),
        batch_size=P.whole(params, "export.batch_size"),
        threads=P.whole(params, "export.threads", minimum=0),
        collapse_points=P.finite(params, "export.collapse_points", 0.0, 100.0),
        threshold=P.finite(params, "evaluate.threshold", 0.0, 1.0),
        seed=P.seed(params),
    )

"""One model's evaluation settings, read once from params.yaml, all checked.

The evaluate stage builds an EvaluateSettings at its entry point; the rest of evaluation
takes that object and never sees the params dict. Every error names the setting at fault.
"""

from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.model_config import ModelConfig, model_config


@dataclass(frozen=True)
class EvaluateSettings:
    """Which model, and the `evaluate:` block with the pipeline's seed."""

    model: ModelConfig
    bootstrap_resamples: int = 2000  # of the macro-F1 interval (accuracy's is exact)
    threshold: float = 0.5  # binary models: P(second label) >= threshold predicts it
    ece_bins: int = 15  # equal-width confidence bins of the expected calibration error
    seed: int = 42  # of the bootstrap resampling

    @property
    def name(self) -> str:
        return self.model.name


def evaluate_settings(params: dict[str, Any], model: str) -> EvaluateSettings:
    """Settings of evaluate@<model>; an unknown model is refused by model_config."""
    return EvaluateSettings(
        model=model_config(params, model),
        bootstrap_resamples=P.whole(params, "evaluate.bootstrap_resamples"),
        threshold=P.finite(params, "evaluate.threshold", 0.0, 1.0),
        ece_bins=P.whole(params, "evaluate.ece_bins"),
        seed=P.seed(params),
    )

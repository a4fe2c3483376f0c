"""The explain stage's settings, read once from params.yaml, all checked.

The stage builds an ExplainSettings at its entry point; the rest of the step takes that
object and never sees the params dict. Every error names the setting at fault.
"""

from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.model_config import ModelConfig, model_configs

TASK = "multiclass"  # Grad-CAM of the class scores; the binary model has one score only


@dataclass(frozen=True)
class ExplainSettings:
    models: tuple[ModelConfig, ...]  # the multiclass models of params.yaml, in its order,
    # less the placeholders: random frozen features explain nothing (ModelConfig.placeholder)
    # (attention model, the same network without attention) pairs, from the models'
    # settings (ModelConfig.differs_only_in_attention); an attention model may have none
    attention_pairs: tuple[tuple[str, str | None], ...]
    right: int = 4  # correctly classified test images per Grad-CAM grid
    wrong: int = 8  # misclassified ones, from the model's most confused class pairs
    placeholders: tuple[str, ...] = ()  # the multiclass models left out


def attention_pairs(models: tuple[ModelConfig, ...]) -> tuple[tuple[str, str | None], ...]:
    """Each attention model with the first attention-free model that differs from it only in
    attention (None when params.yaml has none)."""
    pairs = []
    for m in models:
        if m.attention == "none":
            continue
        plain = [o for o in models if o.attention == "none" and m.differs_only_in_attention(o)]
        pairs.append((m.name, plain[0].name if plain else None))
    return tuple(pairs)


def explain_settings(params: dict[str, Any]) -> ExplainSettings:
    multiclass = [m for m in model_configs(params) if m.task == TASK]
    models = tuple(m for m in multiclass if not m.placeholder)
    right = P.whole(params, "explain.right", minimum=0)
    wrong = P.whole(params, "explain.wrong", minimum=0)
    if right + wrong == 0:
        raise P.ParamError("params.yaml: 'explain.right' and 'explain.wrong' are both 0")
    return ExplainSettings(
        models=models,
        attention_pairs=attention_pairs(models),
        right=right,
        wrong=wrong,
        placeholders=tuple(m.name for m in multiclass if m.placeholder),
    )

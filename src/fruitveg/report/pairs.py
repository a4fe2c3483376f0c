"""Which models the report's paired tests compare, found from the models' settings.

Adding a model is one block of params.yaml: its pairs follow from what it is, not from its
name. params.yaml `report.pairs` can list the pairs instead (fruitveg.report.settings).
"""

from collections.abc import Sequence

from fruitveg.core.model_config import BACKBONES, ModelConfig


def derived_pairs(models: Sequence[ModelConfig]) -> list[tuple[str, str]]:
    """The study's comparisons, as (A, B) name pairs in params.yaml's order.

    First each model against every model of the same network that differs from it only in
    attention (the attention-free one is A; otherwise the one listed first), then each
    attention-free CNN against each attention-free backbone model of the same task.
    """
    pairs = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            if a.differs_only_in_attention(b):  # same task and network, other attention
                first, second = (b, a) if b.attention == "none" else (a, b)
                pairs.append((first.name, second.name))
    plain = [m for m in models if m.attention == "none"]
    cnns = [m for m in plain if m.arch == "cnn"]
    backbones = [m for m in plain if m.arch in BACKBONES]
    pairs += [(c.name, b.name) for c in cnns for b in backbones if c.task == b.task]
    return pairs

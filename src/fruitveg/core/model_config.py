"""The `models:` block of params.yaml: one checked, frozen entry per model.

Adding a model is one block there; the train and evaluate stages (a `foreach` over the
block), the report's table and paired tests, the plots and push_db all find it here.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.paths import TASKS

ARCHS = ("cnn", "vgg16", "resnet50")
BACKBONES = ("vgg16", "resnet50")
ATTENTIONS = ("none", "se", "cbam")
OPTIMIZERS = ("adam", "adamw", "nadam", "rmsprop", "sgd")
CLASS_WEIGHTS = ("none", "balanced")  # balanced: each label weighs n / (labels * its count)


@dataclass(frozen=True)
class ModelConfig:
    """One model's settings as params.yaml gives them (layout facts come later, in training)."""

    name: str
    task: str  # one of TASKS
    arch: str  # one of ARCHS
    attention: str  # one of ATTENTIONS
    lr: float
    epochs: int
    batch_size: int
    optimizer: str
    dropout: float
    weights: str | None = None  # backbones: "imagenet", None, or a weights file
    freeze_backbone: bool = False
    class_weight: str = "none"  # one of CLASS_WEIGHTS; optional in params.yaml (the study: none)
    steps_per_epoch: int | None = None  # batches an epoch; optional, None: the whole train split

    @property
    def placeholder(self) -> bool:
        """A random backbone, frozen: only its head learns, on random features, so it scores
        at chance by design and only keeps the pipeline's shape (the offline default's)."""
        return self.arch in BACKBONES and self.weights is None and self.freeze_backbone

    def differs_only_in_attention(self, other: "ModelConfig") -> bool:
        """The same network on the same task apart from the attention block.

        Training settings (lr, epochs, batch size, optimizer) may differ, so a learning-rate
        experiment on one model keeps its paired test.
        """
        network = ("task", "arch", "dropout", "weights", "freeze_backbone")
        same = all(getattr(self, k) == getattr(other, k) for k in network)
        return same and self.attention != other.attention


def _weights(params: dict[str, Any], key: str) -> str | None:
    raw = P.get(params, key)
    if raw is None or raw == "none":
        return None
    if not isinstance(raw, str) or not raw:
        raise P.ParamError(f"params.yaml: '{key}' must be imagenet, none or a path")
    if raw != "imagenet" and not Path(raw).is_file():
        raise P.ParamError(
            f"params.yaml: '{key}': no weights file at {raw!r} "
            "(give imagenet, none, or the path of a weights file)"
        )
    return raw


def model_config(params: dict[str, Any], name: str) -> ModelConfig:
    """Check one model's block; an unknown name lists the known ones."""
    models = P.get(params, "models")
    if not isinstance(models, dict) or name not in models:
        known = ", ".join(map(str, models)) if isinstance(models, dict) else "none"
        raise P.ParamError(f"params.yaml: unknown model {name!r} (models: has {known})")
    P.model_name(name)
    key = f"models.{name}"
    arch = P.choice(params, f"{key}.arch", ARCHS)
    backbone = arch in BACKBONES
    return ModelConfig(
        name=name,
        task=P.choice(params, f"{key}.task", TASKS),
        arch=arch,
        attention=P.choice(params, f"{key}.attention", ATTENTIONS),
        lr=P.finite(params, f"{key}.lr", 0.0),
        epochs=P.whole(params, f"{key}.epochs"),
        batch_size=P.whole(params, f"{key}.batch_size"),
        optimizer=P.choice(params, f"{key}.optimizer", OPTIMIZERS),
        dropout=P.finite(params, f"{key}.dropout", 0.0, 1.0, low_ok=True),
        weights=_weights(params, f"{key}.weights") if backbone else None,
        freeze_backbone=P.flag(params, f"{key}.freeze_backbone") if backbone else False,
        class_weight=_class_weight(params, f"{key}.class_weight"),
        steps_per_epoch=_steps(params, f"{key}.steps_per_epoch"),
    )


def _steps(params: dict[str, Any], key: str) -> int | None:
    """Optional: none (or absent) trains on the whole train split every epoch."""
    if P.optional(params, key, "none") in ("none", None):
        return None
    return P.whole(params, key)


def _class_weight(params: dict[str, Any], key: str) -> str:
    """Optional, so the study's blocks (and older experiments) read as before: none."""
    if P.optional(params, key, "none") == "none":
        return "none"
    return P.choice(params, key, CLASS_WEIGHTS)


def model_configs(params: dict[str, Any]) -> list[ModelConfig]:
    """Every model of the `models:` block, in params.yaml's order."""
    models = P.get(params, "models")
    if not isinstance(models, dict) or not models:
        raise P.ParamError("params.yaml: 'models' must map model names to their settings")
    return [model_config(params, name) for name in models]


def model_names(params: dict[str, Any]) -> tuple[str, ...]:
    """The names dvc.yaml builds paths and shell commands from, checked: every `tasks`
    item, every `models` key, and each model's task, which must be one of `tasks` (a
    model of a task left out would train on a stale layout of an earlier dataset)."""
    tasks = P.tasks(params)
    models = P.get(params, "models")
    if not isinstance(models, dict) or not models:
        raise P.ParamError("params.yaml: 'models' must map model names to their settings")
    for name, block in models.items():
        P.model_name(name)
        task = block.get("task") if isinstance(block, dict) else None
        if task not in tasks:
            raise P.ParamError(
                f"params.yaml: model {name!r} has task {task!r}, which 'tasks' "
                f"({', '.join(tasks)}) leaves out: add the task to 'tasks' or remove "
                f"{name} from 'models'"
            )
    return tuple(models)

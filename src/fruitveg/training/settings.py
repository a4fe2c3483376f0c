"""One model's training settings, read once from params.yaml and its layout, all checked.

The train stage builds a TrainSettings at its entry point; the rest of training takes that
object and never sees the params dict. Every error names the setting or path at fault, and
comes before anything is built or written.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from fruitveg.core import params as P
from fruitveg.core import paths
from fruitveg.core.errors import PipelineError
from fruitveg.core.model_config import ModelConfig, model_config
from fruitveg.models.build import ModelSpec, min_image_size
from fruitveg.training.cluster import Cluster, read_cluster
from fruitveg.training.inputs import split_files
from fruitveg.training.precision import PRECISIONS

AUTO_BOOL = ("auto", True, False)
# true/false, what params.yaml said before bfloat16: Keras' mixed float16, or float32.
LEGACY_PRECISION = {True: "float16", False: "float32"}
DISTRIBUTE = ("auto", "none", "mirrored", "multiworker")


@dataclass(frozen=True)
class TrainOptions:
    """The `train:` block, shared by every model."""

    mixed_precision: str  # "auto" (training.precision.resolve) or one of PRECISIONS
    jit_compile: str | bool  # XLA; "auto": on where a GPU exists
    distribute: str  # one of DISTRIBUTE
    augment: bool


@dataclass(frozen=True)
class Layout:
    """What a model's layout says: where it is, its labels (sorted) and its image size."""

    root: Path
    labels: tuple[str, ...]
    image_size: int


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides one model's training run."""

    model: ModelConfig
    train: TrainOptions
    seed: int
    layout: Layout
    cluster: Cluster | None = None  # train.distribute: multiworker, from TF_CONFIG

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def binary(self) -> bool:
        return self.model.task == "binary"

    def spec(self) -> ModelSpec:
        return ModelSpec(
            arch=self.model.arch,
            image_size=self.layout.image_size,
            n_labels=len(self.layout.labels),
            binary=self.binary,
            attention=self.model.attention,
            dropout=self.model.dropout,
            weights=self.model.weights,
            freeze_backbone=self.model.freeze_backbone,
            augment=self.train.augment,
        )


def train_options(params: dict[str, Any]) -> TrainOptions:
    return TrainOptions(
        mixed_precision=_precision(params),
        jit_compile=P.choice(params, "train.jit_compile", AUTO_BOOL),
        distribute=P.choice(params, "train.distribute", DISTRIBUTE),
        augment=P.flag(params, "train.augment"),
    )


def _precision(params: dict[str, Any]) -> str:
    value = P.choice(params, "train.mixed_precision", ("auto", *PRECISIONS, True, False))
    return LEGACY_PRECISION.get(value, value)


def train_settings(params: dict[str, Any], name: str) -> TrainSettings:
    """Check model `name`'s settings and its layout; the error names the setting or path."""
    config = model_config(params, name)
    layout = read_layout(paths.layout_dir(config.task), binary=config.task == "binary")
    smallest = min_image_size(config.arch, config.attention)
    if layout.image_size < smallest:
        raise P.ParamError(
            f"params.yaml: 'layout.image_size' is {layout.image_size} px in {layout.root}, "
            f"below the {smallest} px that {config.arch} (models.{name}.arch) needs"
        )
    seed = P.seed(params)
    options = train_options(params)
    cluster = read_cluster() if options.distribute == "multiworker" else None
    if cluster and config.batch_size % cluster.size:
        # batch_size is the global batch: each worker takes an equal share of every step's.
        raise P.ParamError(
            f"params.yaml: 'models.{name}.batch_size' is {config.batch_size}, not a multiple "
            f"of the {cluster.size} workers in TF_CONFIG (the global batch is shared equally)"
        )
    return TrainSettings(model=config, train=options, seed=seed, layout=layout, cluster=cluster)


def read_layout(root: Path, binary: bool) -> Layout:
    """The labels and image size of the layout at `root`, checked."""
    labels = _labels(root)
    if binary and len(labels) != 2:
        raise PipelineError(f"{root}/train: a binary layout needs 2 labels, found {labels}")
    return Layout(root=root, labels=labels, image_size=_image_size(root, labels))


def _labels(layout: Path) -> tuple[str, ...]:
    hint = "(build it first: dvc repro, or the layout stage)"
    for split in ("train", "validation"):
        if not (layout / split).is_dir():
            raise PipelineError(f"{layout / split}: layout missing {hint}")
    labels = tuple(sorted(d.name for d in (layout / "train").iterdir() if d.is_dir()))
    if not labels:
        raise PipelineError(f"{layout / 'train'}: no label folders {hint}")
    extra = sorted(
        d.name for d in (layout / "validation").iterdir() if d.is_dir() and d.name not in labels
    )
    if extra:
        raise PipelineError(f"{layout / 'validation'}: labels not in train: {', '.join(extra)}")
    for split in ("train", "validation"):
        if not split_files(layout, split, labels)[0]:
            raise PipelineError(f"{layout / split}: no images")
    return labels


def _image_size(layout: Path, labels: tuple[str, ...]) -> int:
    """The layout's square image size, read from its first training image."""
    first = Path(split_files(layout, "train", labels)[0][0])
    with Image.open(first) as im:
        width, height = im.size
    if width != height:
        raise PipelineError(f"{first}: layout images must be square, got {width}x{height}")
    return width

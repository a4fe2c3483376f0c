"""The study's seven classifiers, assembled from the blocks and backbones.

Every model takes raw 0-255 RGB float images of shape (size, size, 3): scaling (the CNNs)
or the backbone's own ImageNet preprocessing (VGG16, ResNet50) is the model's first step,
so a saved model needs no outside preprocessing. The preprocessing is recorded in the
graph, so `keras.saving.load_model` opens every model without custom objects.

Outputs: softmax over the sorted labels, or for a binary model one sigmoid = P(labels[1]).
"""

from dataclasses import dataclass

import keras
from keras import layers

from fruitveg.core.model_config import ARCHS, ATTENTIONS, BACKBONES
from fruitveg.models.backbones import BACKBONE_MIN_SIZE, backbone, preprocessing
from fruitveg.models.blocks import attention_block, augmentation, classifier_head, cnn_body


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides a model's architecture."""

    arch: str  # one of ARCHS
    image_size: int
    n_labels: int
    binary: bool = False  # one sigmoid unit (P of the second label) instead of a softmax
    attention: str = "none"  # one of ATTENTIONS
    dropout: float = 0.5
    weights: str | None = None  # backbones: "imagenet", None, or a path to a weights file
    freeze_backbone: bool = False
    augment: bool = False


def min_image_size(arch: str, attention: str = "none") -> int:
    """Smallest square input a model accepts."""
    if arch in BACKBONES:
        return BACKBONE_MIN_SIZE
    # 'valid' 3x3 convolutions and three 2x2 pools: 22 -> 20 -> 10 -> 8 -> 4 -> 2 -> 1.
    return 8 if attention != "none" else 22


def build_cnn(spec: ModelSpec) -> keras.Model:
    """The study's CNN; with attention it uses 'same' padding and the block after conv 3."""
    inputs = keras.Input((spec.image_size, spec.image_size, 3), name="image")
    x = augmentation()(inputs) if spec.augment else inputs
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = cnn_body(x, padding="valid" if spec.attention == "none" else "same")
    x = attention_block(x, spec.attention)
    outputs = classifier_head(
        x,
        pooling="flatten",
        hidden=128,
        dropout=spec.dropout,
        n_labels=spec.n_labels,
        binary=spec.binary,
    )
    return keras.Model(inputs, outputs, name=_model_name(spec))


def build_backbone_model(spec: ModelSpec) -> keras.Model:
    """A pretrained-style backbone, optional attention on its output, then the GAP head."""
    base = backbone(spec.arch, spec.image_size, spec.weights)
    base.trainable = not spec.freeze_backbone
    preprocess = preprocessing(spec.arch)
    inputs = keras.Input((spec.image_size, spec.image_size, 3), name="image")
    x = augmentation()(inputs) if spec.augment else inputs
    x = preprocess(x)  # RGB->BGR and ImageNet mean subtraction, recorded in the graph
    # A frozen backbone keeps its BatchNorm statistics (inference mode), as usual in
    # transfer learning; a fine-tuned one updates them.
    x = base(x, training=False) if spec.freeze_backbone else base(x)
    x = attention_block(x, spec.attention)
    outputs = classifier_head(
        x,
        pooling="gap",
        hidden=256,
        dropout=spec.dropout,
        n_labels=spec.n_labels,
        binary=spec.binary,
    )
    return keras.Model(inputs, outputs, name=_model_name(spec))


def build_model(spec: ModelSpec) -> keras.Model:
    if spec.arch not in ARCHS:
        raise ValueError(f"unknown arch {spec.arch!r}; expected one of {', '.join(ARCHS)}")
    if spec.attention not in ATTENTIONS:
        raise ValueError(
            f"unknown attention {spec.attention!r}; expected one of {', '.join(ATTENTIONS)}"
        )
    if spec.image_size < min_image_size(spec.arch, spec.attention):
        raise ValueError(
            f"{spec.arch} needs images of at least {min_image_size(spec.arch, spec.attention)} px"
        )
    if spec.arch == "cnn":
        return build_cnn(spec)
    return build_backbone_model(spec)


def _model_name(spec: ModelSpec) -> str:
    return spec.arch if spec.attention == "none" else f"{spec.arch}_{spec.attention}"

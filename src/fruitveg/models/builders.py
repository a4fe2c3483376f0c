"""The study's seven classifiers, assembled from shared building blocks.

Every model takes raw 0-255 RGB float images of shape (size, size, 3): scaling (the CNNs)
or the backbone's own ImageNet preprocessing (VGG16, ResNet50) is the model's first step,
so a saved model needs no outside preprocessing. The preprocessing and the CBAM block are
written with `keras.ops` on symbolic tensors, which Keras saves as part of the graph, so
`keras.saving.load_model` opens every model without custom objects.

Outputs: softmax over the sorted labels, or for a binary model one sigmoid = P(labels[1]).
"""

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers, ops

from fruitveg.core.errors import PipelineError
from fruitveg.core.model_config import ARCHS, ATTENTIONS, BACKBONES

SE_RATIO = 8  # Dense(C/8) in the squeeze step, as in the study
BACKBONE_MIN_SIZE = 32  # the smallest input keras.applications accepts for both backbones
DOWNLOAD_TIMEOUT_S = 60  # per socket operation while fetching ImageNet weights


class WeightsError(PipelineError):
    """Backbone weights could not be obtained or loaded."""


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


# ----------------------------------------------------------------------------- blocks


def se_block(x: keras.KerasTensor, ratio: int = SE_RATIO, name: str = "se") -> keras.KerasTensor:
    """Squeeze-and-excitation: GAP -> Dense(C/ratio, relu) -> Dense(C, sigmoid) -> x * weights."""
    channels = x.shape[-1]
    w = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    w = layers.Dense(max(channels // ratio, 1), activation="relu", name=f"{name}_reduce")(w)
    w = layers.Dense(channels, activation="sigmoid", name=f"{name}_expand")(w)
    return layers.Multiply(name=f"{name}_scale")([x, w])


def cbam_block(
    x: keras.KerasTensor, ratio: int = SE_RATIO, kernel_size: int = 7, name: str = "cbam"
) -> keras.KerasTensor:
    """CBAM (Woo et al. 2018): channel attention, then spatial attention.

    Channel: one shared MLP over the average- and max-pooled features, summed, sigmoid.
    Spatial: a kxk convolution over the channel-wise mean and max maps, sigmoid.
    """
    channels = x.shape[-1]
    reduce = layers.Dense(max(channels // ratio, 1), activation="relu", name=f"{name}_reduce")
    expand = layers.Dense(channels, name=f"{name}_expand")
    avg = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_avgpool")(x)
    mx = layers.GlobalMaxPooling2D(keepdims=True, name=f"{name}_maxpool")(x)
    channel = layers.Add(name=f"{name}_channel_sum")([expand(reduce(avg)), expand(reduce(mx))])
    channel = layers.Activation("sigmoid", name=f"{name}_channel_sigmoid")(channel)
    x = layers.Multiply(name=f"{name}_channel_scale")([x, channel])

    pooled = layers.Concatenate(name=f"{name}_channel_pool")(
        [ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)]
    )
    spatial = layers.Conv2D(
        1, kernel_size, padding="same", activation="sigmoid", name=f"{name}_spatial"
    )(pooled)
    return layers.Multiply(name=f"{name}_spatial_scale")([x, spatial])


def attention_block(x: keras.KerasTensor, kind: str, name: str = "attention") -> keras.KerasTensor:
    if kind == "none":
        return x
    if kind == "se":
        return se_block(x, name=f"{name}_se")
    if kind == "cbam":
        return cbam_block(x, name=f"{name}_cbam")
    raise ValueError(f"unknown attention {kind!r}; expected one of {', '.join(ATTENTIONS)}")


def cnn_body(x: keras.KerasTensor, padding: str = "valid") -> keras.KerasTensor:
    """The study's three conv blocks: Conv2D(32/64/128, 3, relu) each followed by MaxPool(2)."""
    for i, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return x


def classifier_head(
    x: keras.KerasTensor,
    *,
    pooling: str,
    hidden: int,
    dropout: float,
    n_labels: int,
    binary: bool,
) -> keras.KerasTensor:
    """Flatten or global average pooling -> Dense(hidden, relu) -> Dropout -> output layer.

    The output layer computes in float32 even under mixed precision, for a stable softmax.
    """
    if pooling == "flatten":
        x = layers.Flatten(name="flatten")(x)
    elif pooling == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        raise ValueError(f"unknown pooling {pooling!r}")
    x = layers.Dense(hidden, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    if binary:
        return layers.Dense(1, activation="sigmoid", dtype="float32", name="output")(x)
    return layers.Dense(n_labels, activation="softmax", dtype="float32", name="output")(x)


def augmentation() -> keras.Sequential:
    """Random flip, rotation and zoom; active only while training."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
        ],
        name="augment",
    )


# --------------------------------------------------------------------------- backbones

_APPLICATIONS: dict[str, tuple[Callable[..., keras.Model], Callable]] = {
    "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input),
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
}


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    # keras' get_file has no timeout; without one a silently dropped connection hangs.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def backbone(arch: str, image_size: int, weights: str | None) -> keras.Model:
    """The Keras application without its top: 'imagenet' weights, None, or a weights file."""
    if arch not in _APPLICATIONS:
        raise ValueError(f"unknown backbone {arch!r}; expected one of {', '.join(BACKBONES)}")
    if image_size < BACKBONE_MIN_SIZE:
        raise ValueError(f"{arch} needs images of at least {BACKBONE_MIN_SIZE} px")
    app, _ = _APPLICATIONS[arch]
    shape = (image_size, image_size, 3)
    if weights is None:
        return app(include_top=False, weights=None, input_shape=shape)
    if weights == "imagenet":
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                return app(include_top=False, weights="imagenet", input_shape=shape)
        except Exception as exc:  # keras raises a bare Exception for a failed download
            raise WeightsError(
                f"could not download the {arch} ImageNet weights ({exc}). Offline, fetch "
                f"{_notop_file(arch)} elsewhere, keep it in the repository (e.g. "
                f"weights/{_notop_file(arch)}) and give that path as the weights setting, or "
                "set weights to none to train from scratch"
            ) from None
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"no weights file at {weights} (give imagenet, none or a path)")
    model = app(include_top=False, weights=None, input_shape=shape)
    try:
        model.load_weights(path)
    except Exception as exc:  # h5py/keras raise several types for a wrong or broken file
        raise WeightsError(
            f"{weights} is not loadable as {arch} weights without the top ({exc})"
        ) from None
    return model


def _notop_file(arch: str) -> str:
    return {
        "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    }[arch]


# ---------------------------------------------------------------------------- builders


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
    _, preprocess = _APPLICATIONS[spec.arch]
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

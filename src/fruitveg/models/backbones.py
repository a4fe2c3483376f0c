"""The pretrained-style backbones: Keras applications without their top, and their weights.

Weights are ImageNet's (downloaded by Keras, with a timeout), none (trained from scratch)
or a local weights file; a failure to obtain or load them is a WeightsError that says
what to do instead.
"""

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras

from fruitveg.core.errors import PipelineError
from fruitveg.core.model_config import BACKBONES

BACKBONE_MIN_SIZE = 32  # the smallest input keras.applications accepts for both backbones
DOWNLOAD_TIMEOUT_S = 60  # per socket operation while fetching ImageNet weights


class WeightsError(PipelineError):
    """Backbone weights could not be obtained or loaded."""


_APPLICATIONS: dict[str, tuple[Callable[..., keras.Model], Callable]] = {
    "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input),
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
}


def preprocessing(arch: str) -> Callable:
    """The backbone's own input preprocessing (RGB->BGR, ImageNet mean subtraction)."""
    return _APPLICATIONS[arch][1]


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

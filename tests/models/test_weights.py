"""Backbone weights: a local file, a wrong file, and 'imagenet' without network."""

import time
from pathlib import Path

import numpy as np
import pytest

from fruitveg.models.backbones import WeightsError, backbone
from fruitveg.models.build import ModelSpec, build_model

from .helpers import make_params, train_stage, write_layout, write_params


def backbone_weights(model) -> list[np.ndarray]:
    return [w.numpy() for w in model.get_layer("vgg16").weights]


def test_local_weights_file_is_loaded_into_the_backbone(tmp_path: Path) -> None:
    source = backbone("vgg16", 32, None)
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(0, 1, w.shape).astype("float32") for w in source.weights])
    path = tmp_path / "vgg16_notop.weights.h5"
    source.save_weights(path)
    expected = [w.numpy() for w in source.weights]

    loaded = build_model(ModelSpec("vgg16", 32, 36, attention="se", weights=str(path)))
    fresh = build_model(ModelSpec("vgg16", 32, 36, attention="se", weights=None))
    for got, want, other in zip(
        backbone_weights(loaded), expected, backbone_weights(fresh), strict=True
    ):
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(other, want)


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, on the wrong file
def test_a_file_for_another_backbone_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "resnet.weights.h5"
    backbone("resnet50", 32, None).save_weights(path)
    with pytest.raises(WeightsError, match=f"{path} is not loadable as vgg16 weights"):
        build_model(ModelSpec("vgg16", 32, 36, weights=str(path)))


@pytest.mark.slow  # the stage script, in a process of its own with no way to the network
def test_imagenet_offline_stops_at_once_saying_what_to_do(tmp_path: Path) -> None:
    write_layout(tmp_path, "multiclass", ("a", "b"), {"train": 2, "validation": 1})
    write_params(tmp_path, make_params(vgg16={"weights": "imagenet"}))
    t0 = time.monotonic()
    # A proxy on a closed local port makes the download fail here whatever the network.
    closed = "http://127.0.0.1:9"
    done = train_stage(
        tmp_path,
        "vgg16",
        check=False,
        timeout=300,
        https_proxy=closed,
        HTTPS_PROXY=closed,
        KERAS_HOME=str(tmp_path / "keras_home"),  # no cached download to fall back on
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert time.monotonic() - t0 < 120
    err = done.stderr
    assert "Traceback" not in err
    assert (
        "error: params.yaml: 'models.vgg16.weights' is imagenet: could not download the vgg16 "
        "ImageNet weights (URL fetch failure" in err
    )
    assert "Connection refused" in err  # what failed
    assert "keep it in the repository (e.g. weights/vgg16_weights_tf_dim_ordering_tf" in err
    assert "set weights to none" in err
    assert not (tmp_path / "data" / "models").exists()
    assert not (tmp_path / "data" / "train_backup").exists()
    assert not (tmp_path / "plots").exists()

"""Each model's output and parameter count, and the attention blocks' arithmetic."""

import keras
import numpy as np
import pytest

from fruitveg.models.blocks import cbam_block, se_block
from fruitveg.models.build import ModelSpec, build_model

# keras.applications without the top, as published by Keras.
VGG16_NOTOP = 14_714_688
RESNET50_NOTOP = 23_587_712


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


CNN_CONVS = conv(3, 3, 32) + conv(3, 32, 64) + conv(3, 64, 128)


def se(c: int) -> int:
    return dense(c, c // 8) + dense(c // 8, c)


def cbam(c: int) -> int:
    return se(c) + conv(7, 2, 1)  # one shared MLP, then the 7x7 spatial convolution


def test_cnn_at_256_px_has_the_studys_parameter_count() -> None:
    model = build_model(ModelSpec("cnn", 256, 36))
    # valid padding: 256 -> 254 -> 127 -> 125 -> 62 -> 60 -> 30, flattened 30*30*128
    assert CNN_CONVS + dense(30 * 30 * 128, 128) + dense(128, 36) == 14_843_620
    assert model.count_params() == 14_843_620
    assert model.output_shape == (None, 36)
    assert [layer.name for layer in model.layers if "conv" in layer.name] == [
        "conv1",
        "conv2",
        "conv3",
    ]


def test_binary_cnn_has_one_sigmoid_output() -> None:
    model = build_model(ModelSpec("cnn", 64, 2, binary=True))
    # 64 -> 62 -> 31 -> 29 -> 14 -> 12 -> 6
    assert model.count_params() == CNN_CONVS + dense(6 * 6 * 128, 128) + dense(128, 1)
    assert model.output_shape == (None, 1)
    out = model(np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype("float32"))
    out = out.numpy()
    assert np.all((out > 0) & (out < 1))


@pytest.mark.parametrize("attention, block", [("se", se(128)), ("cbam", cbam(128))])
def test_cnn_with_attention_uses_same_padding_and_the_block(attention: str, block: int) -> None:
    model = build_model(ModelSpec("cnn", 64, 36, attention=attention))
    # same padding: 64 -> 32 -> 16 -> 8, flattened 8*8*128
    expected = CNN_CONVS + block + dense(8 * 8 * 128, 128) + dense(128, 36)
    assert model.count_params() == expected
    assert model.output_shape == (None, 36)
    names = [layer.name for layer in model.layers]
    assert (
        names.index("pool3") < names.index(f"attention_{attention}_reduce") < names.index("flatten")
    )


@pytest.mark.parametrize(
    "arch, attention, expected",
    [
        ("vgg16", "none", VGG16_NOTOP + dense(512, 256) + dense(256, 36)),
        ("vgg16", "se", VGG16_NOTOP + se(512) + dense(512, 256) + dense(256, 36)),
        ("vgg16", "cbam", VGG16_NOTOP + cbam(512) + dense(512, 256) + dense(256, 36)),
        ("resnet50", "none", RESNET50_NOTOP + dense(2048, 256) + dense(256, 36)),
        ("resnet50", "se", RESNET50_NOTOP + se(2048) + dense(2048, 256) + dense(256, 36)),
    ],
)
def test_backbone_models(arch: str, attention: str, expected: int) -> None:
    model = build_model(ModelSpec(arch, 32, 36, attention=attention))
    assert model.count_params() == expected
    assert model.output_shape == (None, 36)
    out = model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32"))
    np.testing.assert_allclose(np.sum(out.numpy(), axis=1), 1.0, rtol=1e-5)


def test_frozen_backbone_trains_only_the_head() -> None:
    model = build_model(ModelSpec("vgg16", 32, 36, attention="se", freeze_backbone=True))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == se(512) + dense(512, 256) + dense(256, 36)


def test_saved_models_reload_without_custom_objects(tmp_path) -> None:
    """Preprocessing and CBAM are keras.ops in the graph: a plain load_model opens them."""
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    for spec in (ModelSpec("vgg16", 32, 5, attention="cbam"), ModelSpec("cnn", 32, 5)):
        model = build_model(spec)
        model.save(tmp_path / "m.keras")
        loaded = keras.saving.load_model(tmp_path / "m.keras")
        np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def random_weights(model: keras.Model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])


def test_se_block_matches_numpy() -> None:
    inputs = keras.Input((5, 4, 16))
    model = keras.Model(inputs, se_block(inputs, name="se"))
    random_weights(model, 2)
    x = np.random.default_rng(3).normal(size=(2, 5, 4, 16)).astype("float32")
    w1, b1 = model.get_layer("se_reduce").get_weights()
    w2, b2 = model.get_layer("se_expand").get_weights()
    assert w1.shape == (16, 2)  # C/8
    squeeze = x.mean(axis=(1, 2))
    scale = sigmoid(relu(squeeze @ w1 + b1) @ w2 + b2)
    np.testing.assert_allclose(model(x).numpy(), x * scale[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_cbam_block_matches_numpy() -> None:
    inputs = keras.Input((5, 6, 16))
    model = keras.Model(inputs, cbam_block(inputs, kernel_size=3, name="cbam"))
    random_weights(model, 4)
    x = np.random.default_rng(5).normal(size=(2, 5, 6, 16)).astype("float32")
    w1, b1 = model.get_layer("cbam_reduce").get_weights()
    w2, b2 = model.get_layer("cbam_expand").get_weights()
    kernel, bias = model.get_layer("cbam_spatial").get_weights()

    def mlp(v: np.ndarray) -> np.ndarray:
        return relu(v @ w1 + b1) @ w2 + b2

    channel = sigmoid(mlp(x.mean(axis=(1, 2))) + mlp(x.max(axis=(1, 2))))
    y = x * channel[:, None, None, :]
    pooled = np.stack([y.mean(axis=-1), y.max(axis=-1)], axis=-1)  # (2, 5, 6, 2)
    padded = np.pad(pooled, ((0, 0), (1, 1), (1, 1), (0, 0)))
    spatial = np.empty(pooled.shape[:3])
    for i in range(5):
        for j in range(6):
            window = padded[:, i : i + 3, j : j + 3, :]
            spatial[:, i, j] = np.einsum("bhwc,hwc->b", window, kernel[..., 0]) + bias[0]
    expected = y * sigmoid(spatial)[..., None]
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "spec, message",
    [
        (ModelSpec("vgg16", 31, 36), "at least 32 px"),
        (ModelSpec("resnet50", 16, 36), "at least 32 px"),
        (ModelSpec("cnn", 21, 36), "at least 22 px"),
        (ModelSpec("mobilenet", 64, 36), "unknown arch"),
        (ModelSpec("cnn", 64, 36, attention="eca"), "unknown attention"),
    ],
)
def test_builder_rejects_what_it_cannot_build(spec: ModelSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_model(spec)

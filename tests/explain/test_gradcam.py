"""Grad-CAM: the map it reads (found from the structure), its heatmaps' shape and range,
and that on a model whose evidence is known it lights up exactly that evidence."""

import keras
import numpy as np
import pytest
from keras import layers

from fruitveg.explain.gradcam import ExplainError, feature_model, gradcam, head_input
from fruitveg.models.build import ModelSpec, build_model

SIZE = 16
# Rows and columns of a red square at the top right and a blue one at the bottom left: a
# heatmap turned, mirrored or transposed lands on the wrong square or on an empty corner.
RED = (slice(1, 5), slice(10, 14))
BLUE = (slice(10, 14), slice(1, 5))


def toy_model() -> keras.Model:
    """Class 0 is 'red seen', class 1 'blue seen', by construction (no training): a 1x1
    conv gives a red detector and a blue detector, and each class's logit sums one of them
    over every position of the map after pooling."""
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = layers.Conv2D(2, 1, activation="relu", name="detect")
    x = conv(inputs)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    head = layers.Dense(2, name="output")
    outputs = head(x)
    model = keras.Model(inputs, outputs)
    # red detector: R - G - B; blue detector: B - R - G (inputs 0..1)
    conv.set_weights([np.array([[[[1, -1], [-1, -1], [-1, 1]]]], "float32"), np.zeros(2, "f4")])
    cells = (SIZE // 2) ** 2
    kernel = np.zeros((2 * cells, 2), "float32")
    kernel[0::2, 0] = 1.0  # flatten interleaves the two channels: even entries are red's
    kernel[1::2, 1] = 1.0
    head.set_weights([kernel, np.zeros(2, "float32")])
    return model


def two_squares() -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 3), "float32")
    image[RED] = (1, 0, 0)
    image[BLUE] = (0, 0, 1)
    return image[None]


def test_heatmaps_light_the_evidence_for_the_class_asked_for():
    model = toy_model()
    images = np.concatenate([two_squares(), two_squares()])
    heat = gradcam(feature_model(model), images, np.array([0, 1]))
    assert heat.shape == (2, SIZE, SIZE) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1
    assert heat[0].max() == pytest.approx(1) and heat[1].max() == pytest.approx(1)
    red, blue = heat[0], heat[1]
    # 'red' lights the red square, not the blue one, and 'blue' the other way round.
    assert red[RED].mean() > 0.5 and red[BLUE].max() < 0.05
    assert blue[BLUE].mean() > 0.5 and blue[RED].max() < 0.05
    # The empty corners (top left, bottom right) are not lit for either class.
    for corner in ((slice(0, 4), slice(0, 4)), (slice(12, 16), slice(12, 16))):
        assert red[corner].max() < 0.05 and blue[corner].max() < 0.05


def test_no_evidence_gives_an_empty_heatmap_not_noise():
    model = toy_model()
    black = np.zeros((1, SIZE, SIZE, 3), "float32")
    assert np.array_equal(
        gradcam(feature_model(model), black, np.array([0])), np.zeros((1, 16, 16))
    )


def test_a_model_without_a_spatial_map_is_refused():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2)(inputs), name="flat")
    with pytest.raises(ExplainError, match="'flat'.*no layer turns a spatial feature map"):
        head_input(model)


@pytest.mark.parametrize(
    ("arch", "attention", "size", "layer", "shape"),
    [
        ("cnn", "none", 32, "pool3", (2, 2, 128)),  # 'valid': 32 -> 30 -> 15 -> 13 -> 6 -> 4 -> 2
        ("cnn", "se", 32, "attention_se_scale", (4, 4, 128)),  # 'same', after the block
        ("vgg16", "se", 32, "attention_se_scale", (1, 1, 512)),  # on the backbone's output
    ],
)
def test_the_map_read_is_the_last_before_the_head(arch, attention, size, layer, shape):
    model = build_model(ModelSpec(arch, size, n_labels=3, attention=attention))
    found = head_input(model)
    assert found is model.get_layer(layer).output
    assert tuple(found.shape[1:]) == shape


def test_through_a_nested_backbone_the_map_is_the_outer_graphs():
    """VGG16 without attention: the map is the backbone's output as the outer model calls
    it (the nested model's own `.output` is not connected to the outer input)."""
    model = build_model(ModelSpec("vgg16", 32, n_labels=3))
    backbone = model.get_layer("vgg16")
    found = head_input(model)
    assert found is not backbone.output and tuple(found.shape[1:]) == (1, 1, 512)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    heat = gradcam(feature_model(model), images, np.array([0, 2]))
    assert heat.shape == (2, 32, 32) and np.isfinite(heat).all()
    assert heat.min() >= 0 and heat.max() <= 1

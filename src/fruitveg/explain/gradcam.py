"""Grad-CAM (Selvaraju et al. 2017): which part of an image raised a class's score.

The heatmap of class c is relu(sum_k a_k A_k), where A_k are the channels of the feature
map the classifier head reads and a_k the mean over positions of d(logit_c)/dA_k; it is
scaled to [0, 1] per image and resized to the image. The feature map is found from the
model's structure (head_input), so one rule serves all seven models: the last conv block
(or the attention block after it) of the CNNs, the backbone (or its attention block) of
VGG16 and ResNet50.
"""

from typing import Any

import numpy as np

from fruitveg.core.errors import PipelineError

BATCH = 64  # images per forward pass: memory only, the results do not depend on it


class ExplainError(PipelineError):
    """A model can't be explained as built; the message names it and why."""


def head_input(model: Any) -> Any:
    """The feature map (batch, height, width, channels) the classifier head reads: the input
    of the last layer that turns a spatial map into a vector (Flatten, global pooling).

    `layer.input` of a top-level layer is a tensor of this model's graph, even where the
    map comes out of a nested model (a backbone), whose own `.output` belongs to its graph.
    """
    for layer in reversed(model.layers):
        try:
            source, out = layer.input, layer.output
        except (AttributeError, ValueError):  # the input layer; a layer used twice
            continue
        if not isinstance(source, list) and len(source.shape) == 4 and len(out.shape) == 2:
            return source
    raise ExplainError(
        f"model {model.name!r}: no layer turns a spatial feature map into the head's vector "
        "(Flatten or global pooling), so there is no map to explain"
    )


def feature_model(model: Any) -> Any:
    """images -> (the head's input feature map, the model's outputs)."""
    import keras

    return keras.Model(model.inputs[0], [head_input(model), model.outputs[0]])


def gradcam(features: Any, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Heatmaps in [0, 1], shape (n, height, width) of the images, of class `classes[i]` for
    image i. `features` is feature_model(model); the model's outputs should be logits (as
    scoring.loading.load_model gives it), whose gradients a softmax does not flatten."""
    import tensorflow as tf

    heatmaps = []
    for i in range(0, len(images), BATCH):
        x = tf.convert_to_tensor(images[i : i + BATCH], tf.float32)
        wanted = tf.convert_to_tensor(classes[i : i + BATCH], tf.int32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            maps, logits = features(x, training=False)
            # Each image's score depends on its own map only: one gradient serves the batch.
            score = tf.gather(tf.cast(logits, tf.float32), wanted, axis=1, batch_dims=1)
        grads = tf.cast(tape.gradient(score, maps), tf.float32)
        maps = tf.cast(maps, tf.float32)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # a_k per image
        cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))  # (n, h, w)
        top = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        cam = tf.math.divide_no_nan(cam, top)  # no positive evidence at all: all zeros
        resized = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear")[..., 0]
        heatmaps.append(np.clip(resized.numpy(), 0.0, 1.0))
    if not heatmaps:
        return np.zeros((0, *images.shape[1:3]), dtype=np.float32)
    return np.concatenate(heatmaps).astype(np.float32)

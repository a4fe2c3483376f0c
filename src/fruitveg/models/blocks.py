"""The layers every model is assembled from: attention blocks, the CNN body, the head.

The CBAM block is written with `keras.ops` on symbolic tensors, which Keras saves as part
of the graph, so `keras.saving.load_model` opens a model holding it without custom objects.
"""

import keras
from keras import layers, ops

from fruitveg.core.model_config import ATTENTIONS

SE_RATIO = 8  # Dense(C/8) in the squeeze step, as in the study


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

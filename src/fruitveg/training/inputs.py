"""A layout's images as tf.data streams: decoded once, cached, shuffled per epoch by seed."""

import functools
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from fruitveg.core import paths

# Fixed knobs instead of tf.data's autotuning, whose model thread competes with training for
# a laptop's few cores and is joined when the iterator is torn down. With it, stages sat
# 8-35 s after their last epoch, py-spy finding them in RootDataset::Iterator::~Iterator.
# The data is decoded once and cached: two batches ready ahead keep a step fed.
_PARALLEL = os.cpu_count() or 1
_PREFETCH = 2


def _fixed(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in paths.LAYOUT_IMAGE_SUFFIXES)


def split_files(layout: Path, split: str, labels: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """The split's image files in label order, and each one's label index."""
    files: list[str] = []
    targets: list[int] = []
    for i, label in enumerate(labels):
        folder = layout / split / label
        if folder.is_dir():
            found = _images(folder)
            files += [str(f) for f in found]
            targets += [i] * len(found)
    return files, targets


def balanced_class_weight(targets: list[int], n_labels: int) -> dict[int, float]:
    """Keras' class_weight that makes every label weigh as much in the loss as any other:
    n / (labels * count), as scikit-learn's 'balanced' (a label without images gets 0)."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=n_labels)
    n = counts.sum()
    return {i: float(n / (n_labels * c)) if c else 0.0 for i, c in enumerate(counts.tolist())}


def decoded(
    files: list[str], targets: list[int], size: int, n_labels: int, binary: bool
) -> tf.data.Dataset:
    """(uint8 image, target) pairs, each file decoded once and then cached in memory.

    Targets are one-hot over n_labels, or for a binary model one float (1 = second label).
    """

    def load(path: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # The accurate IDCT is libjpeg's default, so these are the very pixels Pillow gives
        # evaluation; TensorFlow's own default differs by up to 15 levels per channel.
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3, dct_method="INTEGER_ACCURATE")
        # Layout images already have this size, for which bilinear resizing is exact.
        image = tf.image.resize(image, (size, size))
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        if binary:
            label = tf.reshape(tf.cast(target, tf.float32), (1,))
        else:
            label = tf.one_hot(target, n_labels)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((files, targets))
    return ds.map(load, num_parallel_calls=_PARALLEL).cache()


def _to_float(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(image, tf.float32), label


def train_stream(
    cached: tf.data.Dataset,
    n: int,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    steps: int | None = None,
) -> tf.data.Dataset:
    """Batches for epochs first_epoch..epochs-1, each epoch shuffled by its own seed and,
    with `steps`, cut to its first `steps` batches.

    The order of epoch e depends only on (seed, e), not on how many epochs this process
    has run, so a resumed run sees exactly the batches an uninterrupted one would.
    """

    # Neighbouring shuffle seeds give similar orders, so hash (seed, e) into each epoch's.
    # Python ints, not a tensor: TF's shuffle fails on a tensor seed when the global seed is 0.
    epochs_ds = [
        cached.shuffle(
            n,
            seed=int(np.random.SeedSequence([seed, e]).generate_state(1, np.uint32)[0]),
            reshuffle_each_iteration=False,
        )
        .batch(batch_size)
        .take(-1 if steps is None else steps)
        for e in range(first_epoch, epochs)
    ]
    empty = cached.take(0).batch(batch_size)  # the start, and all there is when none are left
    stream = functools.reduce(tf.data.Dataset.concatenate, epochs_ds, empty)
    return _fixed(stream.map(_to_float).prefetch(_PREFETCH))


def eval_stream(cached: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    return _fixed(cached.batch(batch_size).map(_to_float).prefetch(_PREFETCH))

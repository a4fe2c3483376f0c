"""The layout's tf.data streams: every epoch's batches, with tf.data's autotuning off."""

from pathlib import Path

import numpy as np

from fruitveg.training.inputs import decoded, eval_stream, split_files, train_stream

from .helpers import write_layout

LABELS = ("apple", "banana", "carrot")


def test_streams_give_every_epoch_whole_without_autotuning(tmp_path: Path) -> None:
    layout = write_layout(tmp_path, "multiclass", LABELS, size=16)
    files, targets = split_files(layout, "train", LABELS)
    cached = decoded(files, targets, 16, len(LABELS), binary=False)
    train = train_stream(cached, len(files), batch_size=4, seed=1, first_epoch=0, epochs=3)
    val = eval_stream(cached, batch_size=4)
    # No autotuning model thread: it competed with training and stalled iterator teardown.
    for ds in (train, val):
        assert ds.options().autotune.enabled is False

    labels = [np.argmax(y, 1) for _, y in train]
    assert [len(b) for b in labels] == [4, 4, 4, 4, 2] * 3  # 18 images, 3 epochs
    per_epoch = [np.sort(np.concatenate(labels[5 * e : 5 * e + 5])) for e in range(3)]
    for epoch in per_epoch:
        assert epoch.tolist() == sorted(targets)
    again = [np.argmax(y, 1) for _, y in train_stream(cached, 18, 4, 1, 0, 3)]
    assert all((a == b).all() for a, b in zip(labels, again, strict=True))


def test_steps_cut_each_epoch_to_its_first_batches(tmp_path: Path) -> None:
    """steps_per_epoch: each epoch is the uncut epoch's first batches, epoch by epoch."""
    layout = write_layout(tmp_path, "multiclass", LABELS, size=16)
    files, targets = split_files(layout, "train", LABELS)
    cached = decoded(files, targets, 16, len(LABELS), binary=False)
    whole = [np.argmax(y, 1) for _, y in train_stream(cached, 18, 4, 1, 0, 3)]
    cut = [np.argmax(y, 1) for _, y in train_stream(cached, 18, 4, 1, 0, 3, steps=2)]
    assert [len(b) for b in cut] == [4, 4] * 3
    firsts = [b for e in range(3) for b in whole[5 * e : 5 * e + 2]]
    assert all((a == b).all() for a, b in zip(cut, firsts, strict=True))

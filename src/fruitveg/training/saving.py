"""Model and weights files made in memory and written through core.atomic.

HDF5 writing a file itself is unsafe on a full disk: a failed write leaves it holding a
half-closed file, and its C exit handler then crashes the process (segmentation fault,
h5py 3.14). Made in an io.BytesIO, a file reaches the disk through atomic_file: a full disk
is a WriteError naming the file, and the file is whole or left as it was.
"""

import io
from pathlib import Path
from typing import Any

import keras
from keras.src.saving import saving_lib  # Keras 3.15 (pinned): save_weights_only's parts

from fruitveg.core.atomic import atomic_file


def _write(target: Path, content: bytes) -> None:
    with atomic_file(Path(target), "wb") as fh:
        fh.write(content)


def save_model(model: keras.Model, target: Path) -> None:
    """model.save(target): a .keras file, which saving_lib makes wholly in memory when
    given a file object (the HDF5 part too)."""
    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    _write(target, buffer.getvalue())


def save_weights(model: keras.Model, filepath: Any, overwrite: bool = True) -> None:
    """model.save_weights(filepath), the .weights.h5 file saving_lib.save_weights_only
    writes, made in memory."""
    if not str(filepath).endswith(".weights.h5"):
        raise ValueError(f"{filepath}: a weights file name ends in .weights.h5")
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(
            model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set()
        )
    finally:
        store.close()
    _write(filepath, buffer.getvalue())


def in_memory(model: keras.Model) -> keras.Model:
    """`model`, its save_weights (what ModelCheckpoint and BackupAndRestore call) made in
    memory; returned for chaining."""
    model.save_weights = lambda filepath, overwrite=True, **_: save_weights(model, filepath)
    return model

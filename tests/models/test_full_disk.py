"""A full disk while train saves: one line naming the file, exit 1, nothing half-written.

HDF5 writing a file itself crashed the process at exit after a failed write (exit -11);
training.saving makes every model and weights file in memory and writes it through
core.atomic. Two ways to fill the disk without root: a file size limit (RLIMIT_FSIZE, so
EFBIG) everywhere, and where user namespaces allow it a real 16 KiB tmpfs (ENOSPC).
"""

import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest

from fruitveg.training import saving

from .helpers import TRAIN_SCRIPT, env, make_params, write_layout, write_params

LABELS = ("apple", "banana", "corn")


def tiny_repo(root: Path) -> Path:
    write_layout(root, "multiclass", LABELS, {"train": 4, "validation": 2})
    write_params(root, make_params())
    return root


def assert_one_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])  # -11: segfault
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == expected


@pytest.mark.slow
def test_a_file_size_limit_while_saving_the_weights_is_one_line(tmp_path: Path) -> None:
    root = tiny_repo(tmp_path)

    def limited() -> None:  # weights files are ~100 KB; 3000 bytes fails HDF5's own header
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    done = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "cnn"], cwd=root, env=env(root),
        capture_output=True, text=True, timeout=600, preexec_fn=limited,
    )  # fmt: skip
    assert_one_line(done, "error: data/train_backup/cnn/best.weights.h5: cannot be written: "
                    "file too large")  # fmt: skip
    assert not (root / "data/models").exists()
    assert not (root / "data/train_backup/cnn/best.weights.h5").exists()
    assert [p.name for p in (root / "data/train_backup/cnn").iterdir()] == ["history.csv"]


def _can_mount_tmpfs() -> bool:
    """Whether this user may mount a tmpfs in a user namespace of its own (Ubuntu's AppArmor,
    containers and old kernels may forbid it)."""
    if not shutil.which("unshare"):
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", folder]
        return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="may not mount a tmpfs without root")
@pytest.mark.parametrize(
    ("full", "named"),
    [
        ("data/train_backup", "data/train_backup/cnn/best.weights.h5"),  # each improving epoch
        ("data/models", "data/models/cnn/model.keras"),  # the published model
    ],
)
def test_a_full_disk_while_saving_is_one_line_and_no_crash(
    tmp_path: Path, full: str, named: str
) -> None:
    root = tiny_repo(tmp_path)
    (root / full).mkdir(parents=True)
    mount = f'mount -t tmpfs -o size=16k tmpfs {full} && exec "$0" "$@"'
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", mount, sys.executable, str(TRAIN_SCRIPT), "cnn"],
        cwd=root, env=env(root), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert_one_line(done, f"error: {named}: cannot be written: no space left on device")
    assert not (root / "data/models/cnn").exists()


def test_weights_made_in_memory_load_back_exactly(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(5)(inputs)))
    saving.in_memory(model).save_weights(tmp_path / "m.weights.h5", overwrite=True)
    other = keras.models.clone_model(model)
    other.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    saving.save_model(model, tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    x = np.ones((2, 4), dtype="float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["m.keras", "m.weights.h5"]

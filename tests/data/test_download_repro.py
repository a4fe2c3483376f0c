"""The download stage as `dvc repro` runs it, on a local dataset: a file name that DVC can't
record is refused before anything is written, and what a killed download left is removed."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ..repo_copy import copy_repo, dvc
from .factory import make_raw

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed copy whose data.source is local: tmp/dataset, two classes."""
    root = copy_repo(tmp_path / "repo")
    make_raw(tmp_path / "dataset", ["apple", "corn"], per_split=1)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] |= {"source": "local", "local_path": str(tmp_path / "dataset")}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t",
                 "commit", "-qm", "local"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def test_a_name_that_is_not_utf8_is_refused_and_dvc_status_still_works(repo, tmp_path):
    apple = os.fsencode(tmp_path / "dataset" / "train" / "apple")
    with open(apple + b"/caf\xe9 \xff.jpg", "wb") as fh:
        fh.write((tmp_path / "dataset/train/apple/Image_1.jpg").read_bytes())
    done = dvc(repo, "repro", "download")
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert (
        f"error: {tmp_path}/dataset/train/apple/caf\\xe9 \\xff.jpg: file name is not valid "
        "UTF-8, which DVC cannot record; rename it\n"
    ) in said
    assert "Traceback" not in said
    assert not (repo / "data" / "raw").exists()
    assert [p.name for p in (repo / "data").iterdir()] == ["params_checked.txt"]
    status = dvc(repo, "status")
    assert status.returncode == 0 and "download:" in status.stdout, status.stderr

    os.rename(apple + b"/caf\xe9 \xff.jpg", apple + b"/cafe.jpg")  # the fix the message asks
    done = dvc(repo, "repro", "download")
    assert done.returncode == 0, done.stderr
    assert (repo / "data/raw/train/apple/cafe.jpg").is_file()
    assert dvc(repo, "status", "download").returncode == 0


def test_the_leftovers_of_a_killed_download_are_removed_when_the_next_starts(repo):
    """A SIGKILLed Kaggle download leaves its temporary folder and, beside it, the Kaggle
    fetch's own, which holds the archive (up to 2 GB): an atomic write inside another."""
    data = repo / "data"
    leftovers = [data / ".raw.k2x9_a0b.tmp", data / "..raw.k2x9_a0b.tmp.q7w3e8r1.tmp"]
    for folder in leftovers:
        (folder / ".download").mkdir(parents=True)
        (folder / ".download" / "archive.zip").write_bytes(b"PK" * 1000)
    others = [data / ".raw.keep", data / "raw.k2x9_a0b.tmp", data / ".rawer.k2x9_a0b.tmp"]
    for path in others:
        path.write_text("not download's")
    done = dvc(repo, "repro", "download")
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in leftovers)
    assert all(p.read_text() == "not download's" for p in others)
    assert (data / "raw" / "test" / "corn").is_dir()

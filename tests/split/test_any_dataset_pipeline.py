"""End to end on a dataset that is not the study's: five classes with other names, given
as one folder of class folders with planted copies, split by the pipeline, multiclass
only (no fruit/vegetable grouping: the binary task is left out in params.yaml alone)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from ..data.factory import picture
from ..repo_copy import copy_repo

pytestmark = pytest.mark.pipeline

# Non-Kaggle names, drawn with the looks of Kaggle classes.
CLASSES = {"durian": "mango", "star fruit": "lemon", "rambutan": "pomegranate",
           "kiwano": "orange", "salak": "onion"}  # fmt: skip


def sh(cwd: Path, *args: str) -> str:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def collection(root: Path) -> None:
    """root/<class>/: 7 pictures per class, plus an exact and a turned copy in durian."""
    key = 0
    for cls, look in CLASSES.items():
        (root / cls).mkdir(parents=True)
        for i in range(7):
            key += 1
            picture(look, key, 64).save(root / cls / f"{i}.jpg", quality=90)
    shutil.copy(root / "durian" / "0.jpg", root / "durian" / "0 copy.jpg")
    with Image.open(root / "durian" / "1.jpg") as im:
        im.transpose(Image.Transpose.ROTATE_270).save(root / "durian" / "1 turned.jpg")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_repo(tmp_path_factory.mktemp("any-dataset"))
    collection(root / "collection")
    params = yaml.safe_load((root / "params.yaml").read_text())
    fractions = {"train": 0.6, "validation": 0.2, "test": 0.2}
    params["data"] |= {"source": "local", "local_path": "collection", "split": "resplit",
                       "split_fractions": fractions}  # fmt: skip
    params["tasks"] = ["multiclass"]  # the classes: block keeps the study's names, unused
    params["layout"]["image_size"] = 32
    params["models"] = {"cnn": params["models"]["cnn"] | {"epochs": 1, "batch_size": 16}}
    params["evaluate"]["bootstrap_resamples"] = 100
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "init", "-q")
    sh(root, "git", "add", "-A")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny")
    return root


def test_five_other_classes_run_end_to_end(repo: Path) -> None:
    ran = set(re.findall(r"Running stage '([^']+)'", sh(repo, "dvc", "repro")))
    assert ran == {"check_params", "download", "audit", "split", "layout@binary",
                   "layout@multiclass", "train@cnn", "evaluate@cnn", "explain", "export@cnn",
                   "report", "push_db"}  # fmt: skip
    # binary is left out of tasks: its layout is empty, and said to be (classes: unused)
    assert not any((repo / "data/layouts/binary").iterdir())
    skipped = json.loads((repo / "metrics/layout/binary.json").read_text())
    assert skipped == {"task": "binary", "skipped": "not in params.yaml tasks"}
    labels = json.loads((repo / "data/models/cnn/labels.json").read_text())
    assert labels == sorted(CLASSES)
    split = json.loads((repo / "metrics/split.json").read_text())
    assert (split["mode"], split["duplicate_groups"], split["groups_across_splits"]) == (
        "resplit",
        2,
        0,
    )
    layout = json.loads((repo / "metrics/layout/multiclass.json").read_text())
    for counts in layout["counts"].values():
        assert sorted(counts) == sorted(CLASSES)  # every class in every split
    assert sum(layout["counts"]["test"].values()) >= len(CLASSES)
    report = json.loads((repo / "metrics/report.json").read_text())
    assert [r["model"] for r in report["models"]] == ["cnn"]
    assert list(report["header"]["images_per_split"]) == ["multiclass"]  # not the empty one
    assert "star fruit" in (repo / "metrics/eval/cnn_per_class.json").read_text()
    assert (
        "data.split: resplit; train 0.6 / validation 0.2 / test 0.2"
        in (repo / "metrics/report.md").read_text()
    )
    assert "Data and pipelines are up to date" in sh(repo, "dvc", "repro")


def test_split_settings_rerun_the_split_alone(repo: Path) -> None:
    """data.split* belong to the split stage: the data is not fetched or audited again
    (the report's header says how the splits were made)."""
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["data"]["split_fractions"] = {"train": 0.5, "validation": 0.25, "test": 0.25}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = sh(repo, "dvc", "status")
    assert set(re.findall(r"^([\w@.-]+):$", status, re.M)) == {"split", "report"}, status
    (repo / "params.yaml").write_text(original)

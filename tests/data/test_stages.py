"""The audit and layout stages as DVC runs them, on a dataset full of odd files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from .factory import make_raw

REPO = Path(__file__).resolve().parents[2]


def odd_files(raw: Path) -> None:
    """One of each awkward kind of file, under names with spaces and non-ASCII letters."""
    apple = raw / "train" / "apple"
    rgb = Image.new("RGB", (50, 40), (200, 30, 30))
    rgb.convert("P").save(apple / "palette ä.jpg", format="GIF")
    rgb.save(apple / "really a jpeg.png", format="JPEG")
    Image.new("RGBA", (50, 40), (0, 200, 0, 128)).save(apple / "rgba 苹果.png")
    rgb.convert("P").save(apple / "palette.png")
    Image.fromarray(np.full((40, 50), 40000, dtype=np.uint16)).save(apple / "deep.png")
    Image.new("CMYK", (50, 40), (0, 255, 255, 0)).save(apple / "cmyk.jpg")
    (apple / "zero.jpg").write_bytes(b"")
    (apple / "text.jpg").write_text("not a picture")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / args[0]), *args[1:]],
        cwd=cwd, env=env, capture_output=True, text=True,
    )  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    make_raw(tmp_path / "data" / "raw", ["apple", "banana", "corn"], per_split=2)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["layout"]["image_size"] = 32
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def test_odd_files_are_decoded_or_listed(workdir: Path) -> None:
    odd_files(workdir / "data" / "raw")
    done = run(workdir, "audit.py")
    assert done.returncode == 0, done.stderr
    report = json.loads((workdir / "metrics" / "audit" / "report.json").read_text())
    assert {u["file"]: u["reason"] for u in report["unreadable"]} == {
        "train/apple/zero.jpg": "empty file",
        "train/apple/text.jpg": "not an image",
    }
    assert report["counts"]["train"]["apple"] == 2 + 8
    done = run(workdir, "layout.py", "multiclass")
    assert done.returncode == 0, done.stderr
    assert "skipped unreadable train/apple/zero.jpg: empty file" in done.stderr
    apple = workdir / "data" / "layouts" / "multiclass" / "train" / "apple"
    assert len(list(apple.iterdir())) == 2 + 6
    assert (apple / "apple__rgba 苹果.jpg").exists()


def test_mapping_error_names_class_and_writes_nothing(workdir: Path) -> None:
    assert run(workdir, "audit.py").returncode == 0
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["classes"]["fruit"].remove("banana")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run(workdir, "layout.py", "binary")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: params.yaml classes: 'banana' found in the data but in neither "
        "classes.fruit nor classes.vegetable"
    )
    assert not (workdir / "data" / "layouts").exists()


def test_failed_rebuild_keeps_nothing_half_written(workdir: Path) -> None:
    assert run(workdir, "audit.py").returncode == 0
    assert run(workdir, "layout.py", "multiclass").returncode == 0
    shutil.rmtree(workdir / "data" / "raw" / "test" / "corn")
    done = run(workdir, "layout.py", "multiclass")
    assert done.returncode == 1 and "test/corn: class 'corn' is missing" in done.stderr
    leftovers = [p.name for p in (workdir / "data" / "layouts").iterdir()]
    assert leftovers == ["multiclass"]  # the old layout, no temporary folder beside it


def test_bad_task_and_setting(workdir: Path) -> None:
    done = run(workdir, "layout.py", "ternary")
    assert done.returncode == 1 and "task must be one of binary, multiclass" in done.stderr
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["layout"]["image_size"] = "big"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run(workdir, "layout.py", "binary")
    assert "'layout.image_size' must be a whole number >= 1, got 'big'" in done.stderr

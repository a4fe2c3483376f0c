"""The download, audit, split and layout stages on a dataset full of odd files.

The stage scripts run in-process (their `main`, in a folder of their own); a subprocess is
started only where the point is what DVC sees: the one-line `error: ...` and exit code 1.
"""

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from fruitveg.core.errors import PipelineError
from fruitveg.data.classes import MappingError
from fruitveg.data.rawdata import LayoutError

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
    """A stage script as DVC runs it: its own process, in the repository root."""
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / args[0]), *args[1:]],
        cwd=cwd, env=env, capture_output=True, text=True,
    )  # fmt: skip


@pytest.fixture
def stage(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Run a stage script's main in-process, in `workdir`, with the given arguments."""
    monkeypatch.chdir(workdir)

    def main(script: str, *args: str) -> None:
        monkeypatch.setattr(sys, "argv", [script, *args])
        runpy.run_path(str(REPO / "stages" / script))["main"]()

    return main


def edit_params(workdir: Path, key: str, value: object) -> None:
    p = yaml.safe_load((workdir / "params.yaml").read_text())
    *parents, last = key.split(".")
    node = p
    for part in parents:
        node = node[part]
    node[last] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(p))


@pytest.fixture(scope="session")
def raw_three_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_raw(tmp_path_factory.mktemp("raw3") / "raw", ["apple", "banana", "corn"])


@pytest.fixture
def workdir(tmp_path: Path, raw_three_classes: Path) -> Path:
    """A repository root of its own: params.yaml (32 px layouts) and data/raw."""
    shutil.copytree(raw_three_classes, tmp_path / "data" / "raw")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    edit_params(tmp_path, "layout.image_size", 32)
    return tmp_path


def test_odd_files_are_decoded_or_listed(workdir: Path, stage, capsys) -> None:
    odd_files(workdir / "data" / "raw")
    stage("audit.py")
    out, _ = capsys.readouterr()
    # (how many pairs the indexes hand on is the search's business, not this test's)
    assert re.fullmatch(
        "metrics/audit/report.json: 26 files, 2 unreadable, 2 duplicate groups, "
        "0 test images leaked into train/validation, 0 validation copies of training images; "
        r"copies found: 0 exact, 4 by hash, 0 by matching, \d+ pairs compared closely\n",
        out,
    )
    report = json.loads((workdir / "metrics" / "audit" / "report.json").read_text())
    assert {u["file"]: u["reason"] for u in report["unreadable"]} == {
        "train/apple/zero.jpg": "empty file",
        "train/apple/text.jpg": "not an image",
    }
    assert report["counts"]["train"]["apple"] == 2 + 8
    assert (workdir / "metrics" / "audit" / "duplicates.csv").read_text().startswith("group,")
    assert (workdir / "plots" / "audit" / "samples.png").read_bytes()[:4] == b"\x89PNG"
    with Image.open(workdir / "plots" / "audit" / "copies.png") as sheet:
        assert sheet.size == (504, 72)  # "no copies across splits or classes": one in train
    stage("split.py")
    out, _ = capsys.readouterr()
    assert out == (
        "data/split/assignment.csv: 26 files (train 14, validation 6, test 6), "
        "data.split: given; 2 duplicate groups, 0 across splits\n"
    )
    stage("layout.py", "multiclass")
    out, err = capsys.readouterr()
    assert "skipped unreadable train/apple/zero.jpg: empty file" in err
    assert out == (
        "data/layouts/multiclass: 24 images at 32 px, 0 duplicates of test images and "
        "0 validation copies of training images left out, 2 unreadable\n"
    )
    apple = workdir / "data" / "layouts" / "multiclass" / "train" / "apple"
    assert len(list(apple.iterdir())) == 2 + 6
    assert (apple / "apple__rgba 苹果.jpg").exists()
    summary = json.loads((workdir / "metrics" / "layout" / "multiclass.json").read_text())
    assert (summary["task"], summary["dedupe"], summary["images"]) == ("multiclass", True, 24)


def test_names_that_are_not_utf8(workdir: Path, stage, capsys) -> None:
    """Linux file names are bytes: one that is not UTF-8 once crashed the audit's CSV."""
    raw = workdir / "data" / "raw"
    apple = os.fsencode(raw / "train" / "apple")
    shutil.copy(raw / "test" / "apple" / "Image_1.jpg", os.fsdecode(apple + b"/copy \xff.jpg"))
    Image.new("RGB", (60, 40), (10, 90, 200)).save(os.fsdecode(apple + b"/caf\xe9.jpg"))
    stage("audit.py")
    capsys.readouterr()
    rows = (workdir / "metrics" / "audit" / "duplicates.csv").read_text(encoding="utf-8")
    assert "train/apple/copy \\xff.jpg" in rows  # the undecodable byte, shown
    with Image.open(workdir / "plots" / "audit" / "copies.png") as sheet:
        assert sheet.size[1] > 200  # the leak's row of thumbnails, drawn
    stage("split.py")
    stage("layout.py", "multiclass")
    out, _ = capsys.readouterr()
    assert "1 duplicates of test images and 0 validation" in out
    names = sorted(os.listdir(os.fsencode(workdir / "data/layouts/multiclass/train/apple")))
    assert names == [b"apple__Image_1.jpg", b"apple__Image_2.jpg", b"apple__caf\\xe9.jpg"]


def test_download_from_a_local_folder(workdir: Path, stage, capsys) -> None:
    shutil.move(workdir / "data" / "raw", workdir / "elsewhere")
    edit_params(workdir, "data.source", "local")
    edit_params(workdir, "data.local_path", "elsewhere")
    stage("download.py")
    out, _ = capsys.readouterr()
    assert out == ("data/raw: 18 files in 3 classes (train 6, validation 6, test 6) from local\n")
    assert (workdir / "data" / "raw" / "test" / "corn" / "Image_2.jpg").is_file()


def test_failed_rebuild_keeps_nothing_half_written(workdir: Path, stage) -> None:
    stage("audit.py")
    stage("split.py")
    stage("layout.py", "multiclass")
    shutil.rmtree(workdir / "data" / "raw" / "test" / "corn")
    with pytest.raises(LayoutError, match="test/corn: no readable image left"):
        stage("layout.py", "multiclass")
    leftovers = [p.name for p in (workdir / "data" / "layouts").iterdir()]
    assert leftovers == ["multiclass"]  # the old layout, no temporary folder beside it


def test_mapping_error_writes_nothing(workdir: Path, stage) -> None:
    stage("audit.py")
    stage("split.py")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["classes"]["fruit"].remove("banana")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(MappingError, match="'banana' found in the data but in neither"):
        stage("layout.py", "binary")
    assert not (workdir / "data" / "layouts").exists()
    assert not (workdir / "metrics" / "layout").exists()


# -- as DVC sees them: one line on stderr and exit code 1 --------------------------------


@pytest.mark.slow
def test_download_script_reports_a_bad_setting(workdir: Path) -> None:
    shutil.rmtree(workdir / "data" / "raw")
    edit_params(workdir, "data.source", "s3")
    done = run(workdir, "download.py")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: params.yaml: 'data.source' must be one of synthetic, kaggle, local; got 's3'\n"
    )
    assert not (workdir / "data" / "raw").exists()


@pytest.mark.slow
def test_audit_script_reports_a_bad_setting(workdir: Path) -> None:
    edit_params(workdir, "audit.near_duplicate_distance", -1)
    done = run(workdir, "audit.py")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: params.yaml: 'audit.near_duplicate_distance' must be a whole number >= 0, got -1\n"
    )
    assert not (workdir / "metrics").exists() and not (workdir / "plots").exists()


@pytest.mark.slow
def test_layout_script_reports_a_mapping_error(workdir: Path, stage) -> None:
    stage("audit.py")
    stage("split.py")
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["classes"]["fruit"].remove("banana")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    done = run(workdir, "layout.py", "binary")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: params.yaml classes: 'banana' found in the data but in neither "
        "classes.fruit nor classes.vegetable (add it to one; for data without a fruit/vegetable "
        "grouping, leave binary out of params.yaml 'tasks' and remove the binary models)\n"
    )
    assert not (workdir / "data" / "layouts").exists()


@pytest.mark.parametrize(
    ("task", "keep", "message"),
    [
        ("multiclass", ["apple"], "data/layouts/multiclass: the multiclass task needs two or "
         "more labels, but the data holds one class only (apple): add the folders of other "
         "classes to the dataset"),
        ("binary", ["apple", "banana"], "data/layouts/binary: the binary task needs two or more "
         "labels, but every class of the data (apple, banana) is a fruit: leave binary out of "
         "params.yaml 'tasks' and remove the binary models"),
    ],
)  # fmt: skip
def test_a_layout_with_one_label_is_refused(workdir: Path, stage, task, keep, message) -> None:
    """It once trained (validation accuracy 1.0); evaluate and predict failed later."""
    raw = workdir / "data" / "raw"
    for folder in raw.glob("*/*"):
        if folder.name not in keep:
            shutil.rmtree(folder)
    stage("audit.py")
    stage("split.py")
    with pytest.raises(PipelineError) as refused:
        stage("layout.py", task)
    assert str(refused.value) == message
    assert not (workdir / "data" / "layouts").exists()
    assert not (workdir / "metrics" / "layout").exists()


def test_a_task_left_out_of_tasks_gets_an_empty_layout(workdir: Path, stage, capsys) -> None:
    """dvc.yaml lists both tasks itself (no text of params.yaml forms an output path); the
    one params.yaml leaves out is written whole but empty, without reading data/raw or the
    fruit/vegetable lists (the data of a [multiclass] dataset has no such grouping)."""
    old = workdir / "data/layouts/binary/train/fruit/old.jpg"  # an earlier dataset's layout
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    shutil.rmtree(workdir / "data" / "raw")
    edit_params(workdir, "tasks", ["multiclass"])
    edit_params(workdir, "classes", None)
    stage("layout.py", "binary")
    assert capsys.readouterr().out == (
        "data/layouts/binary: empty, binary is not in params.yaml tasks\n"
    )
    assert list((workdir / "data/layouts/binary").iterdir()) == []
    summary = json.loads((workdir / "metrics/layout/binary.json").read_text())
    assert summary == {"task": "binary", "skipped": "not in params.yaml tasks"}
    assert sorted(p.name for p in (workdir / "data/layouts").iterdir()) == ["binary"]

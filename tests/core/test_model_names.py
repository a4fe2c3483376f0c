"""A model name is a folder and file name: every stage and script that takes one checks it
before anything is read, written or deleted. A `models:` key such as '../x' or an absolute
path once made train's backup step delete a folder outside the repository."""

import importlib.util
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from fruitveg.core.params import ParamError

REPO = Path(__file__).resolve().parents[2]


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """A repository whose params.yaml has models named '../x' and an absolute path, both
    pointing at folders with something in them that must survive."""
    repo = tmp_path / "repo"
    repo.mkdir()
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (victim / "keep" / "file.txt").write_text("precious")
    (repo / "data" / "x").mkdir(parents=True)  # data/models/../x
    (repo / "data" / "x" / "file.txt").write_text("precious")
    names = ["../x", str(victim / "keep"), "a/b", ".hidden", "x" * 65, ""]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    block = params["models"]["cnn"]
    params["models"] = {name: dict(block) for name in names}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(repo)
    return repo, names


@pytest.mark.parametrize("stage", ["train.py", "evaluate.py"])
def test_stages_refuse_unsafe_model_names_before_touching_disk(hostile, monkeypatch, stage):
    repo, names = hostile
    before = snapshot(repo.parent)
    main = runpy.run_path(str(REPO / "stages" / stage))["main"]
    for name in names:
        monkeypatch.setattr(sys, "argv", [stage, name])
        with pytest.raises(ParamError, match="model name .* must be 1-64 letters, digits"):
            main()
    assert snapshot(repo.parent) == before


def test_lr_sweep_checks_the_model_before_running_anything(hostile, monkeypatch, capsys):
    _, names = hostile
    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # lr_sweep imports its _experiments
    sweep = load_script(REPO / "scripts" / "lr_sweep.py")
    # Calling dvc at all fails the test (lr_sweep runs it through its _experiments).
    monkeypatch.setattr(sys.modules["_experiments"], "dvc", None)
    monkeypatch.setattr(subprocess, "run", None)
    for name in names:
        assert sweep.main(["--model", name]) == 1
        assert "must be 1-64 letters, digits" in capsys.readouterr().err


def test_study_checks_its_model_names_before_running_anything(tmp_path, monkeypatch, capsys):
    study = load_script(REPO / "study" / "run.py")
    hostile = yaml.safe_load((REPO / "study" / "study.yaml").read_text())
    hostile["models"]["../x"] = hostile["models"]["cnn"]
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(hostile))
    monkeypatch.setattr(study, "STUDY", tmp_path / "study.yaml")
    monkeypatch.setattr(sys, "argv", ["study/run.py", "--dry-run"])
    monkeypatch.setattr(subprocess, "run", None)
    monkeypatch.setattr(shutil, "which", None)
    assert study.main() == 1
    out, err = capsys.readouterr()
    assert out == "" and "model name '../x' must be 1-64 letters" in err

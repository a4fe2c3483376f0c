"""The study's full-scale settings: valid keys, and valid training settings once applied."""

import importlib.util
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from fruitveg.core import params
from fruitveg.training.settings import train_settings

from .helpers import REPO, write_layout

STUDY = REPO / "study" / "study.yaml"
_spec = importlib.util.spec_from_file_location("study_run", REPO / "study" / "run.py")
study_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_run)
command, flatten = study_run.command, study_run.flatten


def test_every_study_setting_names_an_existing_parameter() -> None:
    current = params.load(REPO / "params.yaml")
    for key in flatten(yaml.safe_load(STUDY.read_text())):
        params.get(current, key)  # raises ParamError naming a misspelt key


def test_dry_run_prints_one_named_experiment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(sys, "argv", ["study/run.py", "--dry-run", "--name", "study-x"])
    monkeypatch.setattr(subprocess, "run", None)  # a dry run starts nothing
    assert study_run.main() == 0
    args = shlex.split(capsys.readouterr().out)
    assert args == command("study-x", flatten(yaml.safe_load(STUDY.read_text())))
    assert args[:5] == ["dvc", "exp", "run", "--name", "study-x"]
    assert "models.vgg16.lr=1e-05" in args and 'models.vgg16.weights="imagenet"' in args


def test_applied_by_dvc_the_settings_train_every_model_as_the_study(repo: Path) -> None:
    shutil.copy(REPO / "params.yaml", repo / "params.yaml")
    sets = command("s", flatten(yaml.safe_load(STUDY.read_text())))[5:][1::2]  # after each -S
    apply_overrides(str(repo / "params.yaml"), sets)  # what `dvc exp run -S` does
    p = params.load()
    assert p["data"]["source"] == "kaggle" and p["layout"]["image_size"] == 256
    for task, labels in (("multiclass", ("a", "b")), ("binary", ("fruit", "vegetable"))):
        write_layout(repo, task, labels, {"train": 1, "validation": 1}, size=256)
    study_lr = {"vgg16": 1e-5, "vgg16_attention": 1e-5}
    for model in p["models"]:
        s = train_settings(p, model)
        m = s.model
        assert (m.epochs, s.layout.image_size, m.lr) == (25, 256, study_lr.get(model, 1e-4)), model
        assert m.weights == (None if m.arch == "cnn" else "imagenet")
        assert not m.freeze_backbone and m.steps_per_epoch is None

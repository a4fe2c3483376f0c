"""The models: block is checked in one place, with errors naming the setting."""

import copy
from pathlib import Path

import pytest

from fruitveg.core import params
from fruitveg.core.model_config import model_config, model_configs, model_names

REPO = Path(__file__).resolve().parents[2]

CNN = {
    "task": "multiclass", "arch": "cnn", "attention": "none", "lr": 1e-3, "epochs": 2,
    "batch_size": 8, "optimizer": "adam", "dropout": 0.5,
}  # fmt: skip
P = {"seed": 1, "models": {"cnn": CNN, "cnn_se": CNN | {"attention": "se"}}}


def test_every_model_in_order_with_its_settings() -> None:
    cnn, cnn_se = model_configs(P)
    assert (cnn.name, cnn_se.name) == ("cnn", "cnn_se")
    assert cnn.lr == 1e-3 and cnn.weights is None and cnn.freeze_backbone is False
    assert cnn.class_weight == "none"  # optional: the study weighted every image alike
    weighted = model_config(P | {"models": {"x": CNN | {"class_weight": "balanced"}}}, "x")
    assert weighted.class_weight == "balanced"
    assert cnn.steps_per_epoch is None  # optional: the whole train split every epoch
    for steps, expected in ((4, 4), ("none", None)):
        cut = model_config(P | {"models": {"x": CNN | {"steps_per_epoch": steps}}}, "x")
        assert cut.steps_per_epoch == expected
    assert cnn.differs_only_in_attention(cnn_se)
    faster = model_config(P | {"models": {"x": CNN | {"attention": "se", "lr": 1e-4}}}, "x")
    assert cnn.differs_only_in_attention(faster)  # a learning-rate experiment keeps its pair
    wider = model_config(P | {"models": {"x": CNN | {"attention": "se", "dropout": 0.2}}}, "x")
    assert not cnn.differs_only_in_attention(wider)
    assert not cnn.differs_only_in_attention(cnn)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": "fast"}, r"'models.cnn.lr' must be a number > 0, got 'fast'"),
        ({"epochs": 0}, r"'models.cnn.epochs' must be a whole number >= 1, got 0"),
        ({"arch": "vit"}, r"'models.cnn.arch' must be one of cnn, vgg16, resnet50; got 'vit'"),
        ({"dropout": 1.0}, r"'models.cnn.dropout' must be a number >= 0 and < 1, got 1.0"),
        ({"class_weight": "auto"}, r"'models.cnn.class_weight' must be one of none, balanced"),
        ({"class_weight": True}, r"'models.cnn.class_weight' must be one of none, balanced"),
        ({"steps_per_epoch": 0}, r"'models.cnn.steps_per_epoch' must be a whole number >= 1"),
        ({"steps_per_epoch": 2.5}, r"'models.cnn.steps_per_epoch' must be a whole number >= 1"),
    ],
)
def test_bad_values_name_the_setting(change: dict, message: str) -> None:
    bad = copy.deepcopy(P)
    bad["models"]["cnn"] |= change
    with pytest.raises(params.ParamError, match=message):
        model_configs(bad)


def test_unknown_and_unsafe_names() -> None:
    with pytest.raises(params.ParamError, match=r"unknown model 'vgg' \(models: has cnn, cnn_se\)"):
        model_config(P, "vgg")
    for name in ("../x", "/tmp/x", "a b", ".hidden", ""):
        with pytest.raises(params.ParamError, match="must be 1-64 letters, digits"):
            model_config({"models": {name: CNN}}, name)


def test_backbone_settings() -> None:
    vgg = CNN | {"arch": "vgg16", "weights": "none", "freeze_backbone": True}
    c = model_config({"models": {"vgg": vgg}}, "vgg")
    assert c.weights is None and c.freeze_backbone is True
    missing = vgg | {"weights": "no/such/file.h5"}
    with pytest.raises(params.ParamError, match="'models.vgg.weights': no weights file at"):
        model_config({"models": {"vgg": missing}}, "vgg")


def test_seed_and_flags() -> None:
    assert params.seed({"seed": 0}) == 0
    for bad in ("abc", -1, True, 1.5):
        with pytest.raises(params.ParamError, match=r"'seed' must be a whole number >= 0"):
            params.seed({"seed": bad})
    assert params.flag({"a": False}, "a") is False
    with pytest.raises(params.ParamError, match=r"'a' must be one of true, false; got 1"):
        params.flag({"a": 1}, "a")


@pytest.mark.parametrize(
    ("tasks", "models", "message"),
    [
        ("binary", {"cnn": CNN}, r"^params.yaml: 'tasks' must be a list of some of binary, "
         r"multiclass; got 'binary'$"),
        (["multiclass", "../x"], {"cnn": CNN}, r"^params.yaml: 'tasks' holds '../x', which is "
         r"not a task: list some of binary, multiclass$"),
        (["multiclass", "multiclass"], {"cnn": CNN}, r"'tasks' lists a task twice"),
        (["multiclass"], {"cnn;rm x": CNN}, r"^params.yaml models: model name 'cnn;rm x' must "
         r"be 1-64 letters, digits, '_' or '-', starting with a letter or digit; rename it$"),
        (["binary"], {"cnn": CNN}, r"^params.yaml: model 'cnn' has task 'multiclass', which "
         r"'tasks' \(binary\) leaves out: add the task to 'tasks' or remove cnn from 'models'$"),
        (["multiclass"], {}, r"'models' must map model names to their settings"),
    ],
)  # fmt: skip
def test_model_names_checks_what_dvc_yaml_builds_paths_from(tasks, models, message) -> None:
    with pytest.raises(params.ParamError, match=message):
        model_names({"tasks": tasks, "models": models})


def test_model_names_of_the_repository() -> None:
    assert model_names(params.load(REPO / "params.yaml"))[:2] == ("binary_cnn", "cnn")

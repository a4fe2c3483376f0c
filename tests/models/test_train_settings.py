"""Bad settings stop before any training, with an error naming the setting."""

from pathlib import Path

import pytest

from fruitveg.core.errors import PipelineError
from fruitveg.core.params import ParamError
from fruitveg.training.settings import train_settings

from .helpers import make_params, train_stage, write_layout, write_params

LABELS = ("apple", "banana", "corn")


@pytest.fixture
def layouts(repo: Path) -> Path:
    write_layout(repo, "multiclass", LABELS, {"train": 2, "validation": 1})
    write_layout(repo, "binary", ("fruit", "vegetable"), {"train": 2, "validation": 1})
    return repo


def test_good_settings_read_labels_and_size_from_the_layout(layouts: Path) -> None:
    s = train_settings(make_params(), "vgg16_attention")
    assert s.layout.labels == LABELS
    assert s.layout.image_size == 32
    assert s.layout.root == Path("data/layouts/multiclass")
    assert (s.model.arch, s.model.attention, s.model.weights, s.model.lr) == (
        "vgg16",
        "se",
        None,
        1e-3,
    )
    assert (s.seed, s.train.distribute, s.train.augment) == (7, "auto", False)
    spec = s.spec()
    assert (spec.arch, spec.image_size, spec.n_labels, spec.binary) == ("vgg16", 32, 3, False)
    binary = train_settings(make_params(), "binary_cnn")
    assert binary.layout.labels == ("fruit", "vegetable")
    assert binary.binary and binary.spec().binary


def test_settings_are_frozen(layouts: Path) -> None:
    s = train_settings(make_params(), "cnn")
    with pytest.raises(AttributeError):
        s.seed = 1  # type: ignore[misc]


def test_a_binary_layout_needs_two_labels(repo: Path) -> None:
    write_layout(repo, "binary", ("fruit", "vegetable", "nut"), {"train": 1, "validation": 1})
    with pytest.raises(PipelineError, match="a binary layout needs 2 labels"):
        train_settings(make_params(), "binary_cnn")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"arch": "mobilenet"}, "'models.cnn.arch' must be one of cnn, vgg16, resnet50"),
        ({"attention": "eca"}, "'models.cnn.attention' must be one of none, se, cbam"),
        ({"lr": 0}, "'models.cnn.lr' must be a number > 0"),
        ({"lr": -1e-4}, "'models.cnn.lr' must be a number > 0"),
        ({"lr": "fast"}, "'models.cnn.lr' must be a number > 0"),
        ({"batch_size": 0}, "'models.cnn.batch_size' must be a whole number >= 1"),
        ({"batch_size": -32}, "'models.cnn.batch_size' must be a whole number >= 1"),
        ({"epochs": 0}, "'models.cnn.epochs' must be a whole number >= 1"),
        ({"optimizer": "lbfgs"}, "'models.cnn.optimizer' must be one of"),
        ({"dropout": 1.0}, "'models.cnn.dropout' must be a number >= 0 and < 1, got 1.0"),
        ({"task": "regression"}, "'models.cnn.task' must be one of binary, multiclass"),
    ],
)
def test_bad_model_settings(layouts: Path, changes: dict, message: str) -> None:
    with pytest.raises(ParamError, match=message.replace("(", r"\(")):
        train_settings(make_params(cnn=changes), "cnn")


def test_unknown_model(layouts: Path) -> None:
    with pytest.raises(ParamError, match="unknown model 'cnn2'.*cnn_attention"):
        train_settings(make_params(), "cnn2")


@pytest.mark.parametrize("model", ["vgg16", "resnet50_attention"])
def test_image_size_below_a_backbones_minimum(repo: Path, model: str) -> None:
    write_layout(repo, "multiclass", LABELS, {"train": 1, "validation": 1}, size=24)
    with pytest.raises(ParamError, match="'layout.image_size' is 24 px .* below the 32 px"):
        train_settings(make_params(), model)
    train_settings(make_params(), "cnn")  # 24 px is enough for the CNN


def test_missing_layout(repo: Path) -> None:
    with pytest.raises(PipelineError, match=r"data/layouts/multiclass/train: layout missing"):
        train_settings(make_params(), "cnn")


def test_missing_weights_file(layouts: Path) -> None:
    with pytest.raises(ParamError, match="'models.vgg16.weights': no weights file at 'w.h5'"):
        train_settings(make_params(vgg16={"weights": "w.h5"}), "vgg16")


def test_bad_shared_training_settings(layouts: Path) -> None:
    p = make_params()
    p["train"]["distribute"] = "tpu"
    with pytest.raises(ParamError, match="'train.distribute' must be one of auto, none, mirrored"):
        train_settings(p, "cnn")
    p = make_params()
    p["train"]["mixed_precision"] = "yes"
    choices = "auto, float32, bfloat16, float16, true, false"
    with pytest.raises(ParamError, match=f"'train.mixed_precision' must be one of {choices}; got"):
        train_settings(p, "cnn")


@pytest.mark.parametrize(
    "value, precision",
    [("auto", "auto"), ("bfloat16", "bfloat16"), ("float32", "float32"), ("float16", "float16")]
    + [(True, "float16"), (False, "float32")],  # what true/false meant before bfloat16
)
def test_mixed_precision_names_a_float_type(layouts: Path, value, precision: str) -> None:
    p = make_params()
    p["train"]["mixed_precision"] = value
    assert train_settings(p, "cnn").train.mixed_precision == precision


@pytest.mark.slow  # the stage script as DVC runs it
def test_entry_point_stops_before_training_with_one_line(layouts: Path) -> None:
    write_params(layouts, make_params(resnet50={"lr": -1}))
    done = train_stage(layouts, "resnet50", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: params.yaml: 'models.resnet50.lr' must be a number > 0, got -1"
    )
    assert "Traceback" not in done.stderr
    for out in ("data/models", "data/train_backup", "plots", "metrics"):
        assert not (layouts / out).exists(), out

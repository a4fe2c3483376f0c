"""The explain stage in-process on tiny saved models: every multiclass model gets a grid,
every attention model its numbers beside its partner (or alone), the binary model none;
a model not trained yet is an error naming it, and nothing half-written is left."""

import json
from pathlib import Path

import keras
import pytest

from fruitveg.models.build import ModelSpec, build_model

from ..models.helpers import write_layout

LABELS = ("apple", "banana", "corn")
SIZE = 32
MODELS = {  # name: (arch, attention); vgg16_attention has no plain vgg16 to pair with
    "cnn": ("cnn", "none"),
    "cnn_attention": ("cnn", "se"),
    "vgg16_attention": ("vgg16", "se"),
}


def block(task: str, arch: str, attention: str) -> str:
    backbone = ", weights: none, freeze_backbone: false" if arch != "cnn" else ""
    return (
        f"{{task: {task}, arch: {arch}, attention: {attention}, lr: 1.0e-3, epochs: 1, "
        f"batch_size: 4, optimizer: adam, dropout: 0.5{backbone}}}"
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """Untrained models saved as training saves them, and a tiny multiclass layout."""
    root = tmp_path_factory.mktemp("explain")
    lines = ["models:", f"  binary_cnn: {block('binary', 'cnn', 'none')}"]
    lines += [f"  {name}: {block('multiclass', *spec)}" for name, spec in MODELS.items()]
    # A placeholder backbone (random, frozen): left out, so it needs no model file.
    frozen = block("multiclass", "resnet50", "none").replace("false", "true")
    lines += [f"  resnet50: {frozen}"]
    lines += ["explain: {right: 2, wrong: 3}"]
    (root / "params.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_layout(root, "multiclass", LABELS, counts={"test": 3}, size=SIZE)
    keras.utils.set_random_seed(0)
    for name, (arch, attention) in MODELS.items():
        folder = root / "data" / "models" / name
        folder.mkdir(parents=True)
        build_model(ModelSpec(arch, SIZE, len(LABELS), attention=attention)).save(
            folder / "model.keras"
        )
        (folder / "labels.json").write_text(json.dumps(list(LABELS)), encoding="utf-8")
    return root


def test_grids_for_every_multiclass_model_and_numbers_for_every_block(saved, stage, monkeypatch):
    monkeypatch.chdir(saved)
    code, out, err = stage("explain.py")
    assert code == 0, err
    assert "explain: 3 Grad-CAM grids, 2 attention blocks" in out
    assert "left out: resnet50 (placeholder backbones: random frozen features" in out
    pictures = {p.name: p.stat().st_size for p in (saved / "plots" / "explain").iterdir()}
    assert set(pictures) == {
        "cnn_gradcam.png", "cnn_attention_gradcam.png", "vgg16_attention_gradcam.png",
        "cnn_attention_attention.png", "vgg16_attention_attention.png",
    }  # fmt: skip
    assert min(pictures.values()) > 10_000
    numbers = json.loads((saved / "metrics" / "explain" / "attention.json").read_text())
    assert list(numbers) == ["cnn_attention", "vgg16_attention"]
    cnn = numbers["cnn_attention"]
    assert cnn["paired_with"] == "cnn" and cnn["images"] == 9 and cnn["channels"] == 128
    assert cnn["shapes"] == {"before": [4, 4, 128], "paired": [2, 2, 128]}
    assert set(cnn["features"]) == {"before", "after", "paired"}
    assert 0 < cnn["weights"]["min"] <= cnn["weights"]["max"] < 1
    assert cnn["after_over_before_rms"] < 1  # SE weights are below 1: the block only shrinks
    vgg = numbers["vgg16_attention"]
    assert vgg["paired_with"] is None and "paired" not in vgg["features"]
    assert vgg["channels"] == 512 and "before_over_paired_rms" not in vgg


def test_an_untrained_model_is_named_and_nothing_is_half_written(saved, stage, monkeypatch):
    monkeypatch.chdir(saved)
    params = (saved / "params.yaml").read_text()
    (saved / "params.yaml").write_text(
        params.replace(
            "explain:", f"  resnet50: {block('multiclass', 'resnet50', 'none')}\nexplain:"
        )
    )
    # resnet50 comes last: the three models before it are drawn, then the stage fails
    before = {p.name: p.stat().st_mtime_ns for p in (saved / "plots" / "explain").iterdir()}
    try:
        code, _, err = stage("explain.py")
    finally:
        (saved / "params.yaml").write_text(params)
    assert code == 1
    assert "data/models/resnet50/model.keras: model file not found; train it first" in err
    after = {p.name: p.stat().st_mtime_ns for p in (saved / "plots" / "explain").iterdir()}
    assert after == before  # the earlier pictures stand, untouched
    assert not [p for p in (saved / "plots").iterdir() if p.name.endswith(".tmp")]


def test_binary_models_only_read_no_layout(tmp_path, stage, monkeypatch):
    """tasks: [binary]: the multiclass layout is empty (layout@multiclass skipped); explain
    writes empty outputs rather than failing on it, and clears an earlier run's grids."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        f"models:\n  binary_cnn: {block('binary', 'cnn', 'none')}\n"
        "explain: {right: 2, wrong: 3}\n"
    )
    (tmp_path / "data/layouts/multiclass").mkdir(parents=True)
    (tmp_path / "plots/explain").mkdir(parents=True)
    (tmp_path / "plots/explain/cnn_gradcam.png").write_bytes(b"old")
    code, out, err = stage("explain.py")
    assert code == 0, err
    assert "explain: 0 Grad-CAM grids, 0 attention blocks" in out
    assert list((tmp_path / "plots/explain").iterdir()) == []
    assert json.loads((tmp_path / "metrics/explain/attention.json").read_text()) == {}

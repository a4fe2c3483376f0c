"""export@<model> on a tiny hand-set model: every format converted and scored against the
Keras model in one run; a format the converter refuses and one whose accuracy collapses
each give a row saying so, and the stage still succeeds."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fruitveg.core import params
from fruitveg.evaluation.statistics import exact_interval
from fruitveg.export import run as export_run
from fruitveg.export.convert import FORMATS, ConversionError, convert, saved_model
from fruitveg.export.run import calibration_sample, export
from fruitveg.export.settings import export_settings
from fruitveg.scoring.loading import find_split

from .conftest import LABELS, colour_model


def formats(result: dict) -> dict[str, dict]:
    return {r["format"]: r for r in result["formats"]}


def test_every_format_is_written_and_scored_against_keras(trained, stage):
    code, out, err = stage("export.py", "cnn")
    assert code == 0, err
    result = json.loads(Path("metrics/export/cnn.json").read_text())
    rows = formats(result)
    assert list(rows) == ["keras", *FORMATS]
    assert result["n_test"] == 3 * len(LABELS) and result["threads"] == 1
    assert result["calibration_images"] == 8
    keras_row = rows["keras"]
    assert keras_row["accuracy"] == 1.0  # the colours are far apart
    for fmt in FORMATS:
        r = rows[fmt]
        assert r["status"] == "ok", r
        file = Path(f"data/exports/cnn/{fmt}.tflite")
        assert file.stat().st_size == r["size_bytes"]
        assert r["size_ratio"] == pytest.approx(r["size_bytes"] / keras_row["size_bytes"], 1e-5)
        low, high = exact_interval(round(r["accuracy"] * 12), 12)
        assert (r["accuracy_ci_low"], r["accuracy_ci_high"]) == pytest.approx((low, high), 1e-5)
        assert r["agreement"] >= 11 / 12  # int8 included: the same class on (nearly) every image
        assert r["latency_ms"] > 0 and r["images_per_s"] > 0
        assert f"{fmt}:" in out
    assert json.loads(Path("data/exports/cnn/labels.json").read_text()) == LABELS


def test_calibration_sample_is_seeded_and_bounded(world):
    split = find_split(Path("data/layouts/multiclass"), "train")
    a, b = calibration_sample(split, 5, seed=1), calibration_sample(split, 5, seed=1)
    assert a.files == b.files and len(a.files) == 5 and a.files == sorted(a.files)
    assert calibration_sample(split, 5, seed=2).files != a.files
    assert len(calibration_sample(split, 999, seed=1).files) == len(split.files)


def test_a_refused_format_and_a_collapsed_one_are_rows_not_failures(trained, monkeypatch, tmp_path):
    """Simulated: the converter refuses dynamic-range int8; float32 comes out as bytes the
    interpreter can't load; float16 is given a model that always answers the same class,
    so its accuracy collapses to one class in four."""
    constant = colour_model()
    dense = constant.layers[-1]
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])

    with saved_model(constant) as folder:
        constant_source = shutil.copytree(folder, tmp_path / "constant")

    def flaky(source, fmt, calibration):
        if fmt == "dynamic_int8":
            raise ConversionError("RuntimeError: simulated: op FOO is not supported")
        if fmt == "float32":
            return b"not a flatbuffer"
        return convert(constant_source if fmt == "float16" else source, fmt, calibration)

    monkeypatch.setattr(export_run, "convert", flaky)
    result = export(export_settings(params.load(), "cnn"))
    rows = formats(result)
    assert rows["dynamic_int8"]["status"] == "failed"
    assert "simulated: op FOO is not supported" in rows["dynamic_int8"]["reason"]
    assert not Path("data/exports/cnn/dynamic_int8.tflite").exists()
    collapsed = rows["float16"]
    assert collapsed["status"] == "collapsed"
    assert collapsed["accuracy"] == pytest.approx(0.25)
    assert collapsed["change_points"] == pytest.approx(-75.0)
    assert "more than export.collapse_points (5)" in collapsed["reason"]
    assert collapsed["p_value"] < 0.01  # 9 images only Keras got right, none the other way
    assert rows["float32"]["status"] == "failed"
    assert rows["float32"]["reason"].startswith("interpreter: ValueError")
    assert not Path("data/exports/cnn/float32.tflite").exists()
    assert rows["int8"]["status"] == "ok"
    assert json.loads(Path("metrics/export/cnn.json").read_text()) == result


def test_a_model_whose_arch_is_left_out_is_recorded_as_skipped(trained, stage):
    text = Path("params.yaml").read_text()
    Path("params.yaml").write_text(text.replace("archs: all", "archs: [vgg16, resnet50]"))
    code, out, err = stage("export.py", "cnn")
    assert code == 0, err
    why = "its architecture, cnn, is not in params.yaml export.archs"
    assert f"export@cnn: skipped ({why})" in out
    result = json.loads(Path("metrics/export/cnn.json").read_text())
    assert result["skipped"] == why and result["formats"] == []
    assert [p.name for p in Path("data/exports/cnn").iterdir()] == ["SKIPPED"]
    Path("params.yaml").write_text(text.replace("archs: all", "archs: [cnn, vgg]"))
    code, _, err = stage("export.py", "cnn")
    assert code == 1
    assert "'export.archs' must be all or a list of cnn, vgg16, resnet50; got ['cnn', 'vgg']" in err


def test_an_untrained_model_names_the_stage_to_run(world, stage):
    code, _, err = stage("export.py", "cnn")
    assert code == 1
    assert "data/models/cnn/model.keras: model file not found; train it first" in err
    assert not Path("metrics/export/cnn.json").exists()


def test_a_model_the_converter_cannot_take_at_all_gives_failed_rows(trained, monkeypatch):
    """Simulated: the SavedModel export every format starts from fails."""

    def refuse(model):
        raise ConversionError("SavedModel export: ValueError: simulated unsupported layer")

    monkeypatch.setattr(export_run, "saved_model", refuse)
    rows = formats(export(export_settings(params.load(), "cnn")))
    assert rows["keras"]["status"] == "ok"
    for fmt in FORMATS:
        assert rows[fmt]["status"] == "failed"
        assert "simulated unsupported layer" in rows[fmt]["reason"]
    assert sorted(p.name for p in Path("data/exports/cnn").iterdir()) == ["labels.json"]

"""python -m fruitveg.predict: the layouts' own preprocessing (a raw photo's prediction is
the one evaluate made for its layout image), the int8 path, unreadable files, exit codes."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from fruitveg.core import params
from fruitveg.core.errors import run_stage
from fruitveg.evaluation.evaluate import evaluate
from fruitveg.evaluation.settings import evaluate_settings
from fruitveg.export.run import export
from fruitveg.export.settings import export_settings
from fruitveg.predict.__main__ import main

from .conftest import LABELS, SIZE, colour_model, save_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def predict(capsys):
    """Run the command in this process: (exit code, stdout, stderr)."""

    def call(*argv: str) -> tuple[int, str, str]:
        try:
            run_stage(lambda: main(list(argv)))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def raw_tests() -> list[Path]:
    return sorted(p for p in Path("raw/test").rglob("*") if p.is_file())


def json_lines(out: str) -> dict[str, dict]:
    return {d["path"]: d for d in map(json.loads, out.splitlines())}


def test_a_raw_photo_gets_the_prediction_evaluate_made_for_its_layout_image(trained, predict):
    evaluate(evaluate_settings(params.load(), "cnn"))
    with open("metrics/eval/cnn_predictions.csv", newline="") as fh:
        evaluated = {row["path"]: row for row in csv.DictReader(fh)}
    code, out, err = predict("raw/test", "--model", "cnn", "--top", "4", "--json")
    assert code == 0, err
    got = json_lines(out)
    assert len(got) == len(evaluated) == 12
    for path in raw_tests():  # PNG with alpha, EXIF-turned JPEG, plain JPEG
        label = path.parent.name
        row = evaluated[f"{label}/{label}__{path.stem}.jpg"]
        mine = got[str(path)]
        assert mine["class"] == row["predicted"]
        probs = {t["class"]: t["probability"] for t in mine["top"]}
        assert set(probs) == set(LABELS)
        for cls in LABELS:  # every probability, so any pixel of difference would show
            assert probs[cls] == pytest.approx(float(row[f"p_{cls}"]), rel=1e-5, abs=1e-9)


def test_the_int8_export_agrees_with_keras_on_most_images(trained, predict):
    export(export_settings(params.load(), "cnn"))
    _, keras_out, _ = predict("raw/test", "--model", "cnn", "--json")
    code, int8_out, err = predict("raw/test", "--model", "cnn", "--format", "int8", "--json")
    assert code == 0, err
    keras_pred, int8_pred = json_lines(keras_out), json_lines(int8_out)
    assert keras_pred.keys() == int8_pred.keys() and len(keras_pred) == 12
    same = sum(keras_pred[p]["class"] == int8_pred[p]["class"] for p in keras_pred)
    assert same >= 11
    assert len(int8_pred[str(raw_tests()[0])]["top"]) == 3  # the default --top


def test_unreadable_files_are_reported_one_per_line_and_the_rest_predicted(trained, predict):
    Path("notes.txt").write_text("not a picture")
    Path("broken.jpg").write_bytes(Path(raw_tests()[0]).read_bytes()[:200])
    Path("empty.png").write_bytes(b"")
    good = raw_tests()[0]
    code, out, err = predict("notes.txt", str(good), "broken.jpg", "missing.jpg", "empty.png",
                             "--model", "cnn")  # fmt: skip
    assert code == 0
    assert out.startswith(f"{good}: ") and "top 3:" in out and len(out.splitlines()) == 1
    lines = err.splitlines()
    assert lines[:4] == [
        "notes.txt: unreadable: not an image",
        lines[1],
        "missing.jpg: unreadable: not found",
        "empty.png: unreadable: empty file",
    ]
    assert lines[1].startswith("broken.jpg: unreadable: truncated or corrupt")
    code, out, _ = predict("notes.txt", str(good), "--model", "cnn", "--json")
    assert json_lines(out)["notes.txt"] == {"path": "notes.txt", "error": "not an image"}


def test_exit_code_is_non_zero_only_when_nothing_could_be_read(trained, predict):
    Path("notes.txt").write_text("not a picture")
    code, out, err = predict("notes.txt", "missing.jpg", "--model", "cnn")
    assert code == 1 and out == ""
    assert "notes.txt: unreadable: not an image" in err
    assert "error: no file could be read (2 tried)" in err


def test_an_untrained_model_or_a_missing_export_names_the_stage_to_run(world, predict):
    code, _, err = predict("raw/test", "--model", "cnn")
    assert code == 1
    assert "model 'cnn' is not trained yet" in err and "run `dvc repro train@cnn`" in err
    code, _, err = predict("raw/test", "--model", "cnn", "--format", "int8")
    assert code == 1 and "dvc repro train@cnn" in err
    code, _, err = predict("raw/test", "--model", "nope")
    assert code == 1 and "unknown model 'nope'" in err


def test_a_format_export_could_not_make_says_why(trained, predict):
    Path("data/exports/cnn").mkdir(parents=True)
    row = {"format": "int8", "status": "failed", "reason": "converter: simulated"}
    Path("metrics/export").mkdir(parents=True)
    Path("metrics/export/cnn.json").write_text(json.dumps({"formats": [row]}))
    code, _, err = predict("raw/test", "--model", "cnn", "--format", "int8")
    assert code == 1
    assert "export@cnn could not make the int8 format: converter: simulated" in err
    code, _, err = predict("raw/test", "--model", "cnn", "--format", "float16")
    assert code == 1 and "run `dvc repro export@cnn`" in err
    Path("metrics/export/cnn.json").write_text(json.dumps({"skipped": "its arch is not in X"}))
    code, _, err = predict("raw/test", "--model", "cnn", "--format", "float16")
    assert code == 1
    assert "skipped: its arch is not in X; add it there and run `dvc repro export@cnn`" in err


@pytest.mark.slow
def test_the_module_runs_as_a_command(trained):
    Path("notes.txt").write_text("not a picture")
    command = [sys.executable, "-m", "fruitveg.predict", "--model", "cnn"]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([*command, "notes.txt"], capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "no file could be read" in done.stderr
    done = subprocess.run([*command, "notes.txt", "raw/test"], capture_output=True, text=True,
                          env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 12
    done = subprocess.run([*command, "--top", "0", "raw"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "--top must be 1 or more" in done.stderr


def test_a_name_that_is_not_utf8_is_printed_escaped_and_the_rest_follow(trained, monkeypatch):
    """Under a strict stdout and stderr (a pipe under a UTF-8 locale), such a name is
    printed with its bytes escaped, and the lines after it still come."""
    Path("photos").mkdir()
    good = raw_tests()[0]
    for name in (b"photos/0\xff.jpg", b"photos/1.jpg", b"notes\xfe.txt"):
        shutil.copyfile(good, os.fsdecode(name))
    Path(os.fsdecode(b"notes\xfe.txt")).write_text("not a picture")
    for extra in ((), ("--json",)):
        out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8") for _ in range(2))
        with monkeypatch.context() as patch, contextlib.suppress(SystemExit):
            patch.setattr(sys, "stdout", out)
            patch.setattr(sys, "stderr", err)
            argv = [os.fsdecode(b"notes\xfe.txt"), "photos", "--model", "cnn", *extra]
            run_stage(lambda argv=argv: main(argv))
        out.flush(), err.flush()
        lines = out.buffer.getvalue().decode().splitlines()
        errors = err.buffer.getvalue().decode().splitlines()
        if extra:
            got = json_lines("\n".join(lines))
            assert got["notes\\xfe.txt"]["error"] == "not an image"
            assert got["photos/0\\xff.jpg"]["class"] == got["photos/1.jpg"]["class"]
        else:
            assert errors == ["notes\\xfe.txt: unreadable: not an image"]
            assert [line.split(": ")[0] for line in lines] == ["photos/0\\xff.jpg", "photos/1.jpg"]


def test_a_truncated_or_empty_tflite_is_one_line_naming_it(trained, predict):
    Path("data/exports/cnn").mkdir(parents=True)
    shutil.copyfile("data/models/cnn/labels.json", "data/exports/cnn/labels.json")
    Path("data/exports/cnn/float16.tflite").write_bytes(b"")
    Path("data/exports/cnn/int8.tflite").write_bytes(tflite_bytes(colour_model())[:500])
    for fmt in ("float16", "int8"):
        code, out, err = predict("raw/test", "--model", "cnn", "--format", fmt)
        assert code == 1 and out == ""
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith(f"error: data/exports/cnn/{fmt}.tflite: ")
        assert "dvc repro export@cnn" in err


def tflite_bytes(model) -> bytes:
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()):  # Keras lists the endpoints it exported
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def binary_model():
    """The colour model's first output alone, as a sigmoid: a binary model's shape."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.mark.parametrize("labels", [["apple"], ["apple", "banana", "corn"]])
def test_labels_that_disagree_with_the_models_outputs_are_refused(trained, predict, labels):
    """A binary model (one sigmoid) needs two labels; a softmax one label per output."""
    Path("data/exports/cnn").mkdir(parents=True)
    Path("data/exports/cnn/float32.tflite").write_bytes(tflite_bytes(binary_model()))
    Path("data/exports/cnn/labels.json").write_text(json.dumps(labels))
    save_model(Path(), binary_model())
    Path("data/models/cnn/labels.json").write_text(json.dumps(labels))
    for fmt in ("keras", "float32"):
        code, out, err = predict("raw/test", "--model", "cnn", "--format", fmt)
        assert code == 1 and out == "", (fmt, out)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "labels.json" in err and f"{len(labels)} label" in err and "1 output" in err


def test_a_four_label_export_with_five_labels_is_refused(trained, predict):
    Path("data/exports/cnn").mkdir(parents=True)
    Path("data/exports/cnn/float32.tflite").write_bytes(tflite_bytes(colour_model()))
    for labels in (LABELS[:3], [*LABELS, "zucchini"]):
        Path("data/exports/cnn/labels.json").write_text(json.dumps(labels))
        code, out, err = predict("raw/test", "--model", "cnn", "--format", "float32")
        assert code == 1 and out == "", out
        assert f"data/exports/cnn/labels.json lists {len(labels)} labels" in err
        assert "4 outputs" in err and len(err.splitlines()) == 1


def test_a_truncated_model_file_is_reported_corrupt_not_missing(trained, predict):
    data = Path("data/models/cnn/model.keras").read_bytes()
    Path("data/models/cnn/model.keras").write_bytes(data[: len(data) // 2])
    code, out, err = predict("raw/test", "--model", "cnn")
    assert code == 1 and out == ""
    assert err.startswith("error: data/models/cnn/model.keras: ") and len(err.splitlines()) == 1
    assert "corrupt" in err and "not found" not in err.lower(), err


def test_json_never_holds_a_bare_nan(trained, predict):
    model = colour_model()
    dense = model.layers[-1]
    weights, bias = dense.get_weights()
    dense.set_weights([weights, bias * np.nan])
    save_model(Path(), model)
    code, out, err = predict("raw/test", "--model", "cnn", "--json")

    def refuse(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    lines = [json.loads(line, parse_constant=refuse) for line in out.splitlines()]
    assert len(lines) == 12 and all("NaN" in line["error"] for line in lines)
    assert code == 1 and "model cnn gave no finite probabilities" in err
    code, out, err = predict("raw/test", "--model", "cnn")
    lines = err.splitlines()
    assert code == 1 and out == "" and len(lines) == 13
    why = ": no prediction: the model gave NaN probabilities"
    assert all(line.endswith(why) for line in lines[:12])

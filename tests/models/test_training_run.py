"""Training for real on tiny layouts, in-process: outputs, determinism, resume, inputs.

The mirrored strategy needs logical devices set before TensorFlow starts, so that test
alone runs in a fresh interpreter.
"""

import csv
import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import special

from fruitveg.core import history, trained_with
from fruitveg.core.errors import PipelineError
from fruitveg.training import callbacks
from fruitveg.training.loop import train
from fruitveg.training.settings import train_settings

from .helpers import env, history_values, make_params, write_layout, write_params

LABELS = ("apple", "banana", "corn")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_epoch_of_cnn_writes_every_output(repo: Path) -> None:
    write_layout(repo, "multiclass", LABELS, {"train": 4, "validation": 2})
    summary = train(train_settings(make_params(), "cnn"), verbose=False)
    assert summary["epochs"] == summary["best_epoch"] == 1

    model = keras.saving.load_model(repo / "data/models/cnn/model.keras")  # no custom objects
    assert json.loads((repo / "data/models/cnn/labels.json").read_text()) == list(LABELS)
    raw = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    probs = model.predict(raw, verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.dtype_policy.name == "float32"
    # Beside the model: what decided its numbers beyond params.yaml, as this run resolved it.
    facts = json.loads((repo / "data/models/cnn/trained_with.json").read_text())
    assert list(facts) == list(trained_with.FACTS)
    assert facts["precision"] in ("float32", "bfloat16", "float16")
    assert isinstance(facts["xla"], bool) and isinstance(facts["cpu_isa"], str)
    assert facts["tensorflow"] == tf.__version__ and facts["cpus"] >= 1

    with (repo / "plots/history/cnn.csv").open(newline="") as fh:
        assert next(csv.reader(fh)) == list(history.COLUMNS)
    (row,) = read_csv(repo / "plots/history/cnn.csv")
    start, end = (datetime.fromisoformat(row[k]) for k in ("start_time", "end_time"))
    assert start.utcoffset().total_seconds() == 0 and start < end
    assert row["start_time"].endswith("+00:00") and len(row["start_time"]) == 32
    assert row["epoch"] == "1" and float(row["learning_rate"]) == 1e-3
    assert float(row["val_accuracy"]) == summary["best_val_accuracy"]
    (epoch,) = history.read(repo / "plots/history/cnn.csv")
    assert summary["train_seconds"] == round(epoch.seconds, 3)

    # The test split scored by the model file as evaluate loads it: logits under the softmax.
    scored = json.loads((repo / "data/models/cnn/test_logits.json").read_text())
    files = [f"{label}/test_{k:03d}.jpg" for label in LABELS for k in range(2)]
    assert scored["files"] == files and scored["params"] == summary["params"]
    test = repo / "data/layouts/multiclass/test"
    images = np.stack([np.asarray(Image.open(test / f)) for f in files]).astype("float32")
    np.testing.assert_allclose(special.softmax(scored["logits"], axis=1),
                               model.predict(images, verbose=0), rtol=1e-5, atol=1e-7)  # fmt: skip
    assert scored["images_per_s"] > 0 and scored["latency_ms"] > 0

    live = json.loads((repo / "metrics/train/cnn/metrics.json").read_text())
    assert live["eval"]["accuracy"] == float(row["val_accuracy"])
    assert live["train"]["loss"] == float(row["loss"])
    assert live["best"]["epoch"] == 1
    assert (repo / "metrics/train/cnn/plots/metrics/eval/accuracy.tsv").exists()
    assert not (repo / "data/train_backup").exists()


def test_binary_cnn_outputs_p_of_vegetable(repo: Path) -> None:
    write_layout(repo, "binary", ("fruit", "vegetable"), {"train": 4, "validation": 2})
    train(train_settings(make_params(), "binary_cnn"), verbose=False)
    model = keras.saving.load_model(repo / "data/models/binary_cnn/model.keras")
    labels = json.loads((repo / "data/models/binary_cnn/labels.json").read_text())
    assert labels == ["fruit", "vegetable"]
    assert model.output_shape == (None, 1)
    raw = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    p = model.predict(raw, verbose=0)
    assert np.all((p > 0) & (p < 1))


def test_a_diverging_run_stops_naming_the_model_and_epoch_and_writes_no_model(repo: Path):
    write_layout(repo, "multiclass", LABELS, {"train": 4, "validation": 2})
    params = make_params(cnn={"lr": 1e5, "optimizer": "sgd", "epochs": 2})
    with pytest.raises(PipelineError) as err:
        train(train_settings(params, "cnn"), verbose=False)
    assert re.fullmatch(
        r"cnn: training diverged: the loss is (nan|inf) in epoch 1/2, batch [1-3]/3; lower "
        r"models\.cnn\.lr \(100000, sgd\) and run again\. No model was written",
        str(err.value),
    ), err.value
    assert not (repo / "data/models").exists()
    assert not (repo / "data/train_backup/cnn/best.weights.h5").exists()


def test_nan_weights_after_the_last_batch_stop_at_the_validation_loss(repo: Path) -> None:
    write_layout(repo, "multiclass", LABELS, {"train": 1, "validation": 1})
    stop = callbacks.StopOnNaN(train_settings(make_params(), "cnn"))
    stop.on_epoch_begin(0)
    stop.on_train_batch_end(0, {"loss": 2.5})
    with pytest.raises(PipelineError, match="the validation loss is nan in epoch 1/1, valid"):
        stop.on_epoch_end(0, {"loss": 2.5, "val_loss": float("nan")})


@pytest.mark.slow  # VGG16: about ten seconds on two cores
def test_backbone_with_cbam_trains_from_raw_pixels(repo: Path) -> None:
    write_layout(repo, "multiclass", LABELS, {"train": 2, "validation": 1})
    p = make_params(vgg16_attention={"attention": "cbam", "batch_size": 3})
    summary = train(train_settings(p, "vgg16_attention"), verbose=False)
    model = keras.saving.load_model(repo / "data/models/vgg16_attention/model.keras")
    assert summary["params"] == model.count_params()
    assert any("cbam" in layer.name for layer in model.layers)
    assert len(read_csv(repo / "plots/history/vgg16_attention.csv")) == 1


def two_epochs_with_random_layers() -> dict:
    p = make_params(cnn={"epochs": 2, "dropout": 0.5})
    p["train"]["augment"] = True  # random layers too, not only dropout and the shuffle
    return p


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_two_runs_give_identical_histories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, precision: str
) -> None:
    p = two_epochs_with_random_layers()
    p["train"]["mixed_precision"] = precision
    runs = []
    for name in ("one", "two"):
        root = tmp_path / name
        write_layout(root, "multiclass", LABELS, {"train": 5, "validation": 2})
        monkeypatch.chdir(root)
        train(train_settings(p, "cnn"))  # stdout: not a TTY
        out = capsys.readouterr().out
        assert f"cnn: {precision} (train.mixed_precision)" in out
        assert "cnn epoch 2/2: loss" in out  # one concise line an epoch
        runs.append(history_values(root / "plots/history/cnn.csv"))
    assert len(runs[0]) == 3
    assert runs[0] == runs[1]
    # Trained in either precision, the published model is float32 throughout.
    model = keras.saving.load_model(tmp_path / "two/data/models/cnn/model.keras")
    assert {w.dtype for w in model.weights} == {"float32"}
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    raw = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert model(raw).dtype == "float32"


class Killed(BaseException):
    """Stands for SIGKILL: nothing in train() catches it."""


def test_a_killed_run_resumes_to_the_uninterrupted_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """In-process; tests/models/test_resume_dvc.py does it with SIGKILL under dvc repro."""
    p = two_epochs_with_random_layers()
    for name in ("whole", "killed"):
        write_layout(tmp_path / name, "multiclass", LABELS, {"train": 5, "validation": 2})
    monkeypatch.chdir(tmp_path / "whole")
    train(train_settings(p, "cnn"), verbose=False)
    reference = history_values(tmp_path / "whole/plots/history/cnn.csv")

    monkeypatch.chdir(tmp_path / "killed")
    begin = callbacks.EpochSeeds.on_epoch_begin

    def die_at_epoch_2(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:  # epoch 1 and its backup are written; EpochSeeds runs first
            raise Killed
        begin(self, epoch, logs)

    with monkeypatch.context() as patch:
        patch.setattr(callbacks.EpochSeeds, "on_epoch_begin", die_at_epoch_2)
        with pytest.raises(Killed):
            train(train_settings(p, "cnn"), verbose=False)
    assert len(history.read(Path("plots/history/cnn.csv"))) == 1
    assert Path("data/train_backup/cnn/keras/training_metadata.json").exists()
    capsys.readouterr()

    summary = train(train_settings(p, "cnn"), verbose=False)
    out = capsys.readouterr().out
    assert "resuming after epoch 1 from data/train_backup/cnn" in out
    assert "cnn epoch 1/2" not in out and "cnn epoch 2/2" in out
    assert history_values(Path("plots/history/cnn.csv")) == reference
    assert summary["epochs"] == 2
    live = json.loads(Path("metrics/train/cnn/metrics.json").read_text())
    assert live["step"] == 1  # the replayed epoch and the trained one
    assert not Path("data/train_backup").exists()


@pytest.mark.slow  # a fresh interpreter: logical devices must exist before TensorFlow starts
def test_mirrored_strategy_on_two_logical_cpus(tmp_path: Path) -> None:
    write_layout(tmp_path, "multiclass", LABELS, {"train": 4, "validation": 2})
    p = make_params(cnn={"batch_size": 4})
    p["train"]["distribute"] = "mirrored"
    write_params(tmp_path, p)
    script = textwrap.dedent(
        """
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        from fruitveg.core import params
        from fruitveg.training.loop import train
        from fruitveg.training.settings import train_settings
        print(train(train_settings(params.load(), "cnn"), verbose=False))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CPU, 2 replica(s)" in done.stdout
    assert (tmp_path / "data/models/cnn/model.keras").exists()
    assert len(read_csv(tmp_path / "plots/history/cnn.csv")) == 1


def test_training_sees_the_pixels_evaluation_reads(tmp_path: Path) -> None:
    """tf.data must decode layout JPEGs exactly as Pillow does in evaluation."""
    from PIL import Image

    from fruitveg.training.inputs import decoded, split_files

    layout = write_layout(tmp_path, "multiclass", LABELS, {"test": 3}, size=48)
    files, targets = split_files(layout, "test", LABELS)
    got = [image.numpy() for image, _ in decoded(files, targets, 48, len(LABELS), False)]
    want = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    assert len(got) == len(want) == 9
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)

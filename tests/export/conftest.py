"""A tiny world for the export and prediction tests: raw photos in several formats, a
layout built from them by the layout step's own code, and a small Keras model that tells
the classes apart by colour (hand-set weights: no training, so the tests stay fast)."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from fruitveg.data.rawdata import RawFile
from fruitveg.layout.build import build
from fruitveg.scoring.test_logits import score_test_split
from tests.evaluation.conftest import (
    model_block,
    stage,  # noqa: F401  (the fixture, for these tests)
    write_history,
)

SIZE = 16
COLOURS = {  # RGB 0-1 of each class' pictures
    "apple": (0.8, 0.1, 0.1),
    "banana": (0.9, 0.9, 0.2),
    "corn": (0.2, 0.6, 0.9),
    "sweetcorn": (0.3, 0.8, 0.3),
}
LABELS = sorted(COLOURS)
PARAMS = f"""\
seed: 5
evaluate: {{batch_size: 8, bootstrap_resamples: 200, threshold: 0.5, ece_bins: 15}}
export: {{archs: all, calibration_images: 8, latency_images: 3, batch_size: 8, threads: 1,
          collapse_points: 5.0}}
models:
  cnn: {model_block("multiclass")}
"""


def photo(path: Path, colour: tuple[float, float, float], n: int, rng) -> None:
    """A picture of `colour` with noise, in a format and shape that depends on n: a wide
    JPEG, an RGBA PNG, and a JPEG turned by its EXIF orientation tag."""
    h, w = (40, 60) if n % 3 else (90, 50)
    base = np.array(colour) * 255 + rng.normal(0, 25, (h, w, 3))
    pixels = np.clip(base, 0, 255).astype(np.uint8)
    pixels[: h // 8] = 255  # a white band: where it ends up depends on EXIF and resizing
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(pixels)
    if n % 3 == 1:
        im.putalpha(200)
        im.save(path.with_suffix(".png"))
    elif n % 3 == 2:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° on display
        im.save(path.with_suffix(".jpg"), exif=exif, quality=90)
    else:
        im.save(path.with_suffix(".jpg"), quality=90)


def colour_model() -> keras.Model:
    """Nearest-colour classifier: logit_k = s (2 p_k . x - |p_k|^2) of the mean colour x,
    after a 1x1 convolution (the identity) so the int8 path quantizes a convolution too."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(3, 1, activation="relu")
    x = keras.layers.GlobalAveragePooling2D()(conv(x))
    dense = keras.layers.Dense(len(LABELS), activation="softmax")
    model = keras.Model(inputs, dense(x))
    conv.set_weights([np.eye(3).reshape(1, 1, 3, 3), np.zeros(3)])
    p = np.array([COLOURS[label] for label in LABELS]).T
    dense.set_weights([2 * 12 * p, -12 * (p**2).sum(axis=0)])
    return model


def save_model(root: Path, model: keras.Model, name: str = "cnn") -> None:
    folder = root / "data" / "models" / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    (folder / "trained_with.json").write_text('{"precision": "float32"}', encoding="utf-8")
    write_history(root, name, [(1.0, 0.5, 1.1, 0.5), (0.8, 0.7, 0.9, 0.6)])


@pytest.fixture
def world(tmp_path: Path, monkeypatch) -> Path:
    """raw/ photos, data/layouts/multiclass built from them, params.yaml; the cwd. No model."""
    rng = np.random.default_rng(3)
    files = []
    for split, n in (("train", 3), ("test", 3)):
        for label in LABELS:
            for i in range(n):
                photo(tmp_path / "raw" / split / label / f"p{i}", COLOURS[label], i, rng)
            for f in sorted((tmp_path / "raw" / split / label).iterdir()):
                files.append(RawFile(split, label, f))
    out = tmp_path / "data" / "layouts" / "multiclass"
    build(files, {c: c for c in LABELS}, out, SIZE, {}, n_workers=1)
    (tmp_path / "params.yaml").write_text(PARAMS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def trained(world: Path) -> Path:
    """world, with a model trained on it: its test split scored, as train@cnn leaves it."""
    save_model(world, colour_model())
    score_test_split(world / "data/models/cnn", world / "data/layouts/multiclass")
    return world

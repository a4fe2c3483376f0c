"""Training speed of every model, beside the study's input path (a benchmark, not a test).

For each model of params.yaml `models:` this trains on a 36-class layout through the
pipeline's own input (tf.data, decoded once, cached in memory, prefetched) and reports
training images/s, first epoch (tracing and decoding) excluded. In the same run the study's
CNN is fed by the study's input path, Keras' ImageDataGenerator(rescale=1/255)
.flow_from_directory, which decodes and resizes every JPEG with Pillow on every epoch.

Without --layout it generates a layout of random-ish JPEGs of the offline default's shape
(36 classes x 16 training images at 64 px) under bench/out/. Run from the repository root:

    .venv/bin/python bench/train_speed.py                 # all models, 64 px
    .venv/bin/python bench/train_speed.py --models cnn --size 128 --per-class 32
"""

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from fruitveg.core import params as params_mod  # noqa: E402
from fruitveg.core.model_config import model_configs  # noqa: E402
from fruitveg.data.classes import KAGGLE_CLASSES  # noqa: E402
from fruitveg.models.blocks import classifier_head, cnn_body  # noqa: E402
from fruitveg.models.build import ModelSpec, build_model  # noqa: E402
from fruitveg.training.inputs import decoded, split_files, train_stream  # noqa: E402
from fruitveg.training.loop import compile_model  # noqa: E402

OUT = Path("bench/out")


def make_layout(root: Path, size: int, per_class: int, seed: int = 0) -> Path:
    """A train/ split with a class-coloured ellipse on noise per image, as JPEG."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    for c, label in enumerate(KAGGLE_CLASSES):
        folder = root / "train" / label
        folder.mkdir(parents=True, exist_ok=True)
        colour = np.array([(c * 97) % 256, (c * 57 + 80) % 256, (c * 31 + 160) % 256])
        for k in range(per_class):
            img = rng.normal(128, 50, (size, size, 3))
            cy, cx = rng.uniform(0.3, 0.7, 2) * size
            r = rng.uniform(0.15, 0.35) * size
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
            img[mask] = colour + rng.normal(0, 20, 3)
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
                folder / f"{k:04d}.jpg", quality=90
            )
    return root


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self._t)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.times: list[float] = []


def images_per_second(model: keras.Model, data, steps: int, n: int, epochs: int) -> float:
    """Fit 1 + epochs epochs; images/s over all but the first."""
    timer = EpochTimes()
    model.fit(
        data, epochs=1 + epochs, steps_per_epoch=steps, shuffle=False, verbose=0, callbacks=[timer]
    )
    return n * epochs / sum(timer.times[1:])


def study_cnn(size: int, n_labels: int) -> keras.Model:
    """The same CNN as `cnn`, without its Rescaling layer: the generator rescales."""
    inputs = keras.Input((size, size, 3))
    x = cnn_body(inputs)
    outputs = classifier_head(
        x, pooling="flatten", hidden=128, dropout=0.5, n_labels=n_labels, binary=False
    )
    return keras.Model(inputs, outputs)


def study_generator(train_dir: Path, size: int, batch: int):
    """The study's input path; tf.keras still ships it (keras 3 keeps it as legacy)."""
    gen_cls = tf.keras.preprocessing.image.ImageDataGenerator
    gen = gen_cls(rescale=1 / 255)
    return gen.flow_from_directory(
        str(train_dir),
        target_size=(size, size),
        batch_size=batch,
        class_mode="categorical",
        shuffle=True,
        seed=0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="image size in px (default 64)")
    ap.add_argument("--per-class", type=int, default=16, help="training images per class")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after a warm-up one")
    ap.add_argument("--models", nargs="*", help="models to time (default: all in params.yaml)")
    ap.add_argument("--layout", type=Path, help="an existing layout folder (with train/)")
    args = ap.parse_args()

    keras.utils.set_random_seed(0)
    layout = args.layout
    if layout is None:
        layout = OUT / f"layout_{args.size}px_{args.per_class}"
        if not (layout / "train").is_dir():
            make_layout(layout, args.size, args.per_class)
    labels = tuple(sorted(d.name for d in (layout / "train").iterdir() if d.is_dir()))
    files, targets = split_files(layout, "train", labels)
    n, size = len(files), args.size
    steps = math.ceil(n / args.batch)
    models = {c.name: c for c in model_configs(params_mod.load())}
    names = args.models or list(models)
    if "cnn" not in names:  # the reference for the study's input path
        names.insert(0, "cnn")

    results: dict[str, float] = {}
    print(f"{n} training images, {len(labels)} labels, {size} px, batch {args.batch}")
    cached = decoded(files, targets, size, len(labels), binary=False)
    for name in names:
        cfg = models[name]
        spec = ModelSpec(
            arch=cfg.arch,
            image_size=size,
            n_labels=2 if cfg.task == "binary" else len(labels),
            binary=cfg.task == "binary",
            attention=cfg.attention,
            freeze_backbone=cfg.freeze_backbone,
        )
        model = build_model(spec)
        compile_model(model, "adam", 1e-4, spec.binary, jit=False)
        data = cached
        if spec.binary:  # the same images, labelled by the first half of the classes or not
            data = cached.map(lambda x, y: (x, tf.cast(tf.argmax(y) >= 18, "float32")[None]))
        stream = train_stream(data, n, args.batch, 0, 0, 1 + args.epochs)
        results[name] = images_per_second(model, stream, steps, n, args.epochs)
        print(f"{name:20s} {results[name]:8.1f} images/s  (tf.data, cached)", flush=True)

    # The study's input path last: its generator keeps a loader thread decoding JPEGs after
    # fit returns, which would slow any model timed after it in this process.
    study = study_cnn(size, len(labels))
    compile_model(study, "adam", 1e-4, binary=False, jit=False)
    generator = study_generator(layout / "train", size, args.batch)
    results["cnn_study_input"] = images_per_second(study, generator, steps, n, args.epochs)
    print(
        f"{'cnn, study input':20s} {results['cnn_study_input']:8.1f} images/s  "
        "(ImageDataGenerator(rescale=1/255).flow_from_directory)",
        flush=True,
    )
    ratio = results["cnn"] / results["cnn_study_input"]
    print(f"cnn: pipeline input / study input = {ratio:.2f}x", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    report = {
        "images_per_second": results,
        "setup": {
            "images": n,
            "size": size,
            "batch": args.batch,
            "timed_epochs": args.epochs,
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "machine": platform.machine(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }
    (OUT / "train_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {OUT / 'train_speed.json'}")


if __name__ == "__main__":
    main()

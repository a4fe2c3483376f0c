"""Training speed of every model in each precision, with and without XLA (a benchmark, not a test).

For each model of params.yaml `models:` this times training steps in float32, mixed bfloat16
and mixed float16, each with and without XLA (`jit_compile`), all in one run on the same
batches, held in memory as the pipeline holds its layout, and prints what
`train.mixed_precision: auto` picks on this machine (training.precision), flagging a pick
that measured slower than float32. The table in training/precision.py comes from this. In
the same run the study's CNN is fed by the study's input path, Keras' ImageDataGenerator
(rescale=1/255).flow_from_directory, which decodes every JPEG on every epoch.

Each configuration runs 2 untimed steps (tracing, XLA compiling), then steps until at least
--seconds have passed. Without --layout it generates a layout of random-ish JPEGs (36
classes x --per-class training images) under bench/out/. Run from the repository root:

    .venv/bin/python bench/train_speed.py                     # every model, 64 px
    .venv/bin/python bench/train_speed.py --models cnn vgg16 --size 128 --no-xla
"""

import argparse
import itertools
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
from fruitveg.training import precision  # noqa: E402
from fruitveg.training.inputs import decoded, split_files  # noqa: E402
from fruitveg.training.loop import compile_model  # noqa: E402

OUT = Path("bench/out")
WARMUP_STEPS = 2


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


def timed_steps(model: keras.Model, batches: list, min_seconds: float) -> float:
    """Training images/s: WARMUP_STEPS untimed, then whole steps until min_seconds pass.

    At least 3 timed steps, unless they are so slow (float16 on a CPU: tens of seconds a
    step) that min_seconds x 3 pass first.
    """
    cycle = itertools.cycle(batches)
    for _ in range(WARMUP_STEPS):
        model.train_on_batch(*next(cycle))
    images, steps, t0 = 0, 0, time.perf_counter()
    while True:
        x, y = next(cycle)
        model.train_on_batch(x, y)  # returns numpy losses: the step has finished
        images, steps = images + len(x), steps + 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds and (steps >= 3 or elapsed >= 3 * min_seconds):
            return images / elapsed


def model_speed(spec: ModelSpec, prec: str, jit: bool, batches: list, min_seconds: float) -> float:
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(precision.POLICY[prec])
    try:
        model = build_model(spec)
        compile_model(model, "adam", 1e-4, spec.binary, jit=jit)
        return timed_steps(model, batches, min_seconds)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def study_cnn(size: int, n_labels: int) -> keras.Model:
    """The same CNN as `cnn`, without its Rescaling layer: the generator rescales."""
    inputs = keras.Input((size, size, 3))
    x = cnn_body(inputs)
    outputs = classifier_head(
        x, pooling="flatten", hidden=128, dropout=0.5, n_labels=n_labels, binary=False
    )
    return keras.Model(inputs, outputs)


def study_input_speed(train_dir: Path, size: int, batch: int, n: int, n_labels: int) -> float:
    """The study's input path; tf.keras still ships it (keras 3 keeps it as legacy)."""
    keras.backend.clear_session()
    model = study_cnn(size, n_labels)
    compile_model(model, "adam", 1e-4, binary=False, jit=False)
    gen = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1 / 255)
    flow = gen.flow_from_directory(
        str(train_dir), (size, size), batch_size=batch, class_mode="categorical", seed=0
    )
    steps = math.ceil(n / batch)
    model.fit(flow, epochs=1, steps_per_epoch=steps, verbose=0)  # tracing
    t0 = time.perf_counter()
    model.fit(flow, epochs=2, steps_per_epoch=steps, verbose=0)
    return 2 * steps * batch / (time.perf_counter() - t0)


def column(prec: str, jit: bool) -> str:
    return prec + (" XLA" if jit else "")


def print_table(results: dict[str, dict[str, float | str]], cols: list[str]) -> None:
    print("\ntraining images/s (x float32 without XLA)\n")
    print("| model | " + " | ".join(cols) + " | auto picks |")
    print("|---" * (len(cols) + 2) + "|")
    for name, row in results.items():
        base = row["float32"]
        cells = []
        for c in cols:
            v = row[c]
            if isinstance(v, str) or not isinstance(base, float):
                cells.append(str(v))
            else:
                cells.append(f"{v:.1f}" + ("" if c == "float32" else f" ({v / base:.2f}x)"))
        print(f"| {name} | " + " | ".join(cells) + f" | {row['auto']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="image size in px (default 64)")
    ap.add_argument("--per-class", type=int, default=8, help="training images per class")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per configuration")
    ap.add_argument("--models", nargs="*", help="models to time (default: all in params.yaml)")
    ap.add_argument(
        "--precisions", nargs="*", default=list(precision.PRECISIONS), choices=precision.PRECISIONS
    )
    ap.add_argument("--no-xla", action="store_true", help="skip the XLA columns")
    ap.add_argument("--no-study-input", action="store_true", help="skip the study's input path")
    ap.add_argument("--layout", type=Path, help="an existing layout folder (with train/)")
    args = ap.parse_args()
    precisions = ["float32"] + [p for p in args.precisions if p != "float32"]

    layout = args.layout
    if layout is None:
        layout = OUT / f"layout_{args.size}px_{args.per_class}"
        if not (layout / "train").is_dir():
            make_layout(layout, args.size, args.per_class)
    labels = tuple(sorted(d.name for d in (layout / "train").iterdir() if d.is_dir()))
    files, targets = split_files(layout, "train", labels)
    n, size = len(files), args.size
    stream = decoded(files, targets, size, len(labels), binary=False).batch(args.batch)
    batches = [(tf.cast(x, "float32"), y) for x, y in stream]
    # The binary models: the same images, labelled by the first half of the classes or not.
    binary_batches = [(x, tf.cast(tf.argmax(y, 1) >= 18, "float32")[:, None]) for x, y in batches]

    gpu = bool(tf.config.list_physical_devices("GPU"))
    flags = precision.cpu_flags()
    native = sorted(flags & precision.NATIVE_BF16_FLAGS) or "none"
    print(
        f"{n} training images, {len(labels)} labels, {size} px, batch {args.batch}; "
        f"{'GPU' if gpu else 'CPU'}, {os.cpu_count()} cores, native bfloat16 flags: {native}",
        flush=True,
    )
    models = {c.name: c for c in model_configs(params_mod.load())}
    names = args.models or list(models)
    cols = [column(p, jit) for jit in (False, True)[: 1 if args.no_xla else 2] for p in precisions]

    results: dict[str, dict[str, float | str]] = {}
    slower: list[str] = []
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
        row: dict[str, float | str] = {}
        for c in cols:
            prec, jit = c.split(" ")[0], c.endswith("XLA")
            try:
                row[c] = model_speed(
                    spec, prec, jit, binary_batches if spec.binary else batches, args.seconds
                )
            except Exception as exc:  # e.g. an op without a kernel in that precision
                row[c] = f"failed: {type(exc).__name__}"
            shown = row[c] if isinstance(row[c], str) else f"{row[c]:.1f} images/s"
            print(f"{name:20s} {c:14s} {shown}", flush=True)
        auto, _ = precision.resolve("auto", cfg.arch, gpu=gpu, flags=flags)
        row["auto"] = auto
        picked, base = row.get(auto), row["float32"]
        if isinstance(picked, str) or (isinstance(picked, float) and picked < base):
            slower.append(f"{name} ({auto})")
        results[name] = row

    print_table(results, cols)
    if slower:
        print(f"\nauto picks a precision slower than float32 here for: {', '.join(slower)}")
    if not args.no_study_input:
        study = study_input_speed(layout / "train", size, args.batch, n, len(labels))
        results["cnn, study input"] = {"float32": study}
        ratio = results["cnn"]["float32"] / study if "cnn" in results else math.nan
        print(
            f"\ncnn, study input (ImageDataGenerator, float32): {study:.1f} images/s; "
            f"in-memory batches / study input = {ratio:.2f}x"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    report = {
        "images_per_second": results,
        "auto_slower_than_float32": slower,
        "setup": {
            "images": n,
            "size": size,
            "batch": args.batch,
            "seconds_per_configuration": args.seconds,
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "native_bf16_flags": sorted(flags & precision.NATIVE_BF16_FLAGS),
            "machine": platform.machine(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }
    (OUT / "train_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {OUT / 'train_speed.json'}")


if __name__ == "__main__":
    main()

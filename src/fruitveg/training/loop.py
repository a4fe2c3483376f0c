"""Training one model of params.yaml `models:` on its layout, resumable and reproducible.

`train(model_name, params)` checks every setting first (a bad one raises ParamError or
PipelineError before anything is built), then builds the model, reads the layout once
into memory and fits, writing:

- data/models/<model>/model.keras + labels.json: the best epoch by val_accuracy;
- plots/history/<model>.csv: one row per epoch (times, losses, accuracies, learning rate);
- metrics/train/<model>/: dvclive's per-epoch metrics and summary.

DVC deletes a stage's outputs before rerunning it, so everything needed to resume after a
kill lives in data/train_backup/<model>/ instead: Keras' BackupAndRestore state, the best
weights so far and the history so far. A rerun with the same settings and layout carries on
from the last finished epoch; the epoch-seeded shuffle makes the resumed epochs identical
to an uninterrupted run. The backup is removed once the outputs are in place.
"""

import contextlib
import csv
import functools
import hashlib
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from dvclive.utils import standardize_metric_name
from PIL import Image

from fruitveg.core import params as P
from fruitveg.core import paths
from fruitveg.core.atomic import atomic_dir, atomic_file, write_json
from fruitveg.core.errors import PipelineError
from fruitveg.core.model_config import model_config
from fruitveg.core.params import ParamError, choice, flag
from fruitveg.models.backbones import WeightsError
from fruitveg.models.build import ModelSpec, build_model, min_image_size

AUTO_BOOL = ("auto", True, False)


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """One model's validated settings, with what its layout says about labels and size."""

    model: str
    task: str
    arch: str
    attention: str
    lr: float
    epochs: int
    batch_size: int
    optimizer: str
    dropout: float
    weights: str | None
    freeze_backbone: bool
    seed: int
    mixed_precision: str | bool
    jit_compile: str | bool
    distribute: str
    augment: bool
    layout: str
    labels: tuple[str, ...]
    image_size: int

    def spec(self) -> ModelSpec:
        return ModelSpec(
            arch=self.arch,
            image_size=self.image_size,
            n_labels=len(self.labels),
            binary=self.task == "binary",
            attention=self.attention,
            dropout=self.dropout,
            weights=self.weights,
            freeze_backbone=self.freeze_backbone,
            augment=self.augment,
        )


def settings(model: str, p: dict[str, Any]) -> Settings:
    """Check one model's settings and its layout; the error names the setting or path."""
    c = model_config(p, model)
    task, arch, attention = c.task, c.arch, c.attention
    key = f"models.{model}"
    layout = paths.layout_dir(task)
    labels = _layout_labels(layout)
    if task == "binary" and len(labels) != 2:
        raise PipelineError(f"{layout}/train: a binary layout needs 2 labels, found {labels}")
    size = _layout_image_size(layout, labels)
    smallest = min_image_size(arch, attention)
    if size < smallest:
        raise ParamError(
            f"params.yaml: 'layout.image_size' is {size} px in {layout}, below the {smallest} px "
            f"that {arch} ({key}.arch) needs"
        )
    return Settings(
        model=model,
        task=task,
        arch=arch,
        attention=attention,
        lr=c.lr,
        epochs=c.epochs,
        batch_size=c.batch_size,
        optimizer=c.optimizer,
        dropout=c.dropout,
        weights=c.weights,
        freeze_backbone=c.freeze_backbone,
        seed=P.seed(p),
        mixed_precision=choice(p, "train.mixed_precision", AUTO_BOOL),
        jit_compile=choice(p, "train.jit_compile", AUTO_BOOL),
        distribute=choice(p, "train.distribute", ("auto", "none", "mirrored")),
        augment=flag(p, "train.augment"),
        layout=str(layout),
        labels=labels,
        image_size=size,
    )


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in paths.LAYOUT_IMAGE_SUFFIXES)


def _layout_labels(layout: Path) -> tuple[str, ...]:
    hint = "(build it first: dvc repro, or the layout stage)"
    for split in ("train", "validation"):
        if not (layout / split).is_dir():
            raise PipelineError(f"{layout / split}: layout missing {hint}")
    labels = tuple(sorted(d.name for d in (layout / "train").iterdir() if d.is_dir()))
    if not labels:
        raise PipelineError(f"{layout / 'train'}: no label folders {hint}")
    extra = sorted(
        d.name for d in (layout / "validation").iterdir() if d.is_dir() and d.name not in labels
    )
    if extra:
        raise PipelineError(f"{layout / 'validation'}: labels not in train: {', '.join(extra)}")
    for split in ("train", "validation"):
        if not any(_images(layout / split / lb) for lb in labels if (layout / split / lb).is_dir()):
            raise PipelineError(f"{layout / split}: no images")
    return labels


def split_files(layout: Path, split: str, labels: tuple[str, ...]) -> tuple[list[str], list[int]]:
    files: list[str] = []
    targets: list[int] = []
    for i, label in enumerate(labels):
        folder = layout / split / label
        if folder.is_dir():
            found = _images(folder)
            files += [str(f) for f in found]
            targets += [i] * len(found)
    return files, targets


def _layout_image_size(layout: Path, labels: tuple[str, ...]) -> int:
    """The layout's square image size, read from its first training image."""
    first = Path(split_files(layout, "train", labels)[0][0])
    with Image.open(first) as im:
        width, height = im.size
    if width != height:
        raise PipelineError(f"{first}: layout images must be square, got {width}x{height}")
    return width


# ----------------------------------------------------------------------------- runtime


@dataclass(frozen=True)
class Runtime:
    strategy: tf.distribute.Strategy
    device: str
    mixed_precision: bool
    jit_compile: bool


def configure_runtime(s: Settings) -> Runtime:
    """Seeds, op determinism, precision policy and the distribution strategy."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: already initialised, e.g. by an earlier train() in this process.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    keras.utils.set_random_seed(s.seed)
    tf.config.experimental.enable_op_determinism()
    mixed = bool(gpus) if s.mixed_precision == "auto" else bool(s.mixed_precision)
    jit = bool(gpus) if s.jit_compile == "auto" else bool(s.jit_compile)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")

    logical_gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if s.distribute == "mirrored" or (s.distribute == "auto" and len(logical_gpus) > 1):
        # On a machine without GPUs, 'mirrored' spreads over the logical CPU devices.
        devices = logical_gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy: tf.distribute.Strategy = tf.distribute.MirroredStrategy(devices)
    else:
        strategy = tf.distribute.get_strategy()
    device = f"{len(gpus)} GPU" if gpus else "CPU"
    return Runtime(strategy, device, mixed, jit)


# ------------------------------------------------------------------------------- input


def decoded(
    files: list[str], targets: list[int], size: int, n_labels: int, binary: bool
) -> tf.data.Dataset:
    """(uint8 image, target) pairs, each file decoded once and then cached in memory.

    Targets are one-hot over n_labels, or for a binary model one float (1 = second label).
    """

    def load(path: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # The accurate IDCT is libjpeg's default, so these are the very pixels Pillow gives
        # evaluation; TensorFlow's own default differs by up to 15 levels per channel.
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3, dct_method="INTEGER_ACCURATE")
        # Layout images already have this size, for which bilinear resizing is exact.
        image = tf.image.resize(image, (size, size))
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        if binary:
            label = tf.reshape(tf.cast(target, tf.float32), (1,))
        else:
            label = tf.one_hot(target, n_labels)
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((files, targets))
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()


def _to_float(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.cast(image, tf.float32), label


def train_stream(
    cached: tf.data.Dataset, n: int, batch_size: int, seed: int, first_epoch: int, epochs: int
) -> tf.data.Dataset:
    """Batches for epochs first_epoch..epochs-1, each epoch shuffled by its own seed.

    The order of epoch e depends only on (seed, e), not on how many epochs this process
    has run, so a resumed run sees exactly the batches an uninterrupted one would.
    """

    # Neighbouring shuffle seeds give similar orders, so hash (seed, e) into each epoch's.
    # Python ints, not a tensor: TF's shuffle fails on a tensor seed when the global seed is 0.
    epochs_ds = [
        cached.shuffle(
            n,
            seed=int(np.random.SeedSequence([seed, e]).generate_state(1, np.uint32)[0]),
            reshuffle_each_iteration=False,
        ).batch(batch_size)
        for e in range(first_epoch, epochs)
    ]
    empty = cached.take(0).batch(batch_size)  # the start, and all there is when none are left
    stream = functools.reduce(tf.data.Dataset.concatenate, epochs_ds, empty)
    return stream.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def eval_stream(cached: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    return cached.batch(batch_size).map(_to_float).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------- history


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _as_float32(value: Any) -> float:
    # The optimizer keeps the rate as float32; print it as the number params.yaml gave.
    return float(str(np.float32(value)))


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["epoch"] = int(row["epoch"])
        for key in paths.HISTORY_COLUMNS[3:]:
            row[key] = float(row[key])
    return rows


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=paths.HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


class EpochHistory(keras.callbacks.Callback):
    """Per-epoch history rows, written to the backup and the published CSV every epoch.

    It also adds the learning rate to the epoch's logs (for dvclive) and, when stdout is
    not a terminal, prints one concise line per epoch.
    """

    def __init__(
        self, s: Settings, rows: list[dict[str, Any]], targets: list[Path], concise: bool
    ) -> None:
        super().__init__()
        self.s = s
        self.rows = rows
        self.targets = targets
        self.concise = concise
        self._start = ""
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch != len(self.rows):  # Keras fell back to an older backup than the one read
            raise RuntimeError(
                f"{self.s.model}: resumed at epoch {epoch + 1}, but the history kept holds "
                f"{len(self.rows)} epochs; the backup has changed, run the stage again"
            )
        self._start = _now()
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        lr = _as_float32(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        logs["learning_rate"] = lr
        row = {
            "epoch": epoch + 1,
            "start_time": self._start,
            "end_time": _now(),
            **{k: float(logs[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")},
            "learning_rate": lr,
        }
        best = max((r["val_accuracy"] for r in self.rows), default=-math.inf)
        self.rows.append(row)
        for target in self.targets:
            write_history(target, self.rows)
        if self.concise:
            mark = "  *best" if row["val_accuracy"] > best else ""
            print(
                f"{self.s.model} epoch {epoch + 1}/{self.s.epochs}: loss {row['loss']:.4f} "
                f"accuracy {row['accuracy']:.4f} val_loss {row['val_loss']:.4f} "
                f"val_accuracy {row['val_accuracy']:.4f} lr {lr:g} "
                f"{time.perf_counter() - self._t0:.1f}s{mark}",
                flush=True,
            )


class EpochSeeds(keras.callbacks.Callback):
    """Set every random layer's seed state from the epoch number at the start of each epoch.

    Dropout and augmentation draw from SeedGenerator states that Keras does not save with
    the weights; a resumed run would otherwise restart them and differ from an uninterrupted
    one. Keyed by (initial seed, epoch), epoch e draws the same numbers either way.
    """

    STEP_SPAN = 2**20  # counter values reserved per epoch (calls per epoch stay far below)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._states = [v for v in self.model.variables if "seed_generator_state" in v.path]
        self._initial = [np.array(keras.ops.convert_to_numpy(v))[0] for v in self._states]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for state, seed in zip(self._states, self._initial, strict=True):
            state.assign(np.array([seed, epoch * self.STEP_SPAN], dtype=state.dtype))


# ------------------------------------------------------------------------------ backup


def _fingerprint(s: Settings) -> str:
    """What the backup was made from: settings, layout files and library versions."""
    layout = Path(s.layout)
    files = sorted(
        f"{f.relative_to(layout).as_posix()}:{f.stat().st_size}"
        for split in ("train", "validation")
        for f in (layout / split).rglob("*")
        if f.is_file()
    )
    weights = None
    if s.weights not in (None, "imagenet"):
        with open(s.weights, "rb") as fh:
            weights = hashlib.file_digest(fh, "sha256").hexdigest()
    blob = json.dumps(
        {
            "settings": asdict(s),
            "files": files,
            "weights_file": weights,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Backup:
    """The resume state of one model in data/train_backup/<model>/."""

    root: Path

    @property
    def keras_dir(self) -> Path:  # BackupAndRestore owns this folder alone
        return self.root / "keras"

    @property
    def best_weights(self) -> Path:
        return self.root / "best.weights.h5"

    @property
    def history(self) -> Path:
        return self.root / "history.csv"

    @property
    def fingerprint(self) -> Path:
        return self.root / "fingerprint.txt"

    def restored_epoch(self) -> int:
        """Epochs finished in the saved state (what BackupAndRestore will resume after)."""
        meta = self.keras_dir / "training_metadata.json"
        if not meta.exists():
            return 0
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (ValueError, KeyError, TypeError):
            return 0

    def open(self, fingerprint: str) -> tuple[int, list[dict[str, Any]]]:
        """Start afresh or resume; returns (finished epochs, their history rows)."""
        if self.root.exists():
            same = self.fingerprint.exists() and self.fingerprint.read_text() == fingerprint
            done = self.restored_epoch() if same else 0
            rows = read_history(self.history)[:done] if done else []
            if done and len(rows) == done and self.best_weights.exists():
                return done, rows
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.fingerprint.write_text(fingerprint)
        return 0, []

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# ------------------------------------------------------------------------------- train


def compile_model(model: keras.Model, optimizer: str, lr: float, binary: bool, jit: bool) -> None:
    """Optimizer by name, cross-entropy for the output type, accuracy as the metric."""
    opt = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
    loss = "binary_crossentropy" if binary else "categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"], jit_compile=jit)


def _replay(live: Live, rows: list[dict[str, Any]]) -> None:
    """Log the epochs a resumed run already finished, as DVCLiveCallback logged them."""
    for row in rows:
        for key in paths.HISTORY_COLUMNS[3:]:
            live.log_metric(standardize_metric_name(key, "dvclive.keras"), row[key])
        live.next_step()


def _publish(s: Settings, backup: Backup) -> int:
    """Save the best epoch's weights as a float32 model file, with its labels.

    The file holds the model alone, uncompiled: no optimizer state, a third of the size.
    """
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(replace(s.spec(), weights=None))  # weights come from the checkpoint
    model.load_weights(backup.best_weights)
    with atomic_dir(paths.model_dir(s.model)) as tmp:
        model.save(tmp / "model.keras")
        write_json(tmp / "labels.json", list(s.labels))
    return model.count_params()


def train(model_name: str, p: dict[str, Any], *, verbose: bool | None = None) -> dict[str, Any]:
    """Train `model_name` from params `p`; returns a summary of the run.

    verbose: Keras' progress bar (True) or one line per epoch (False); by default the
    progress bar only when stdout is a terminal.
    """
    s = settings(model_name, p)
    progress_bar = sys.stdout.isatty() if verbose is None else verbose
    runtime = configure_runtime(s)
    with runtime.strategy.scope():
        try:  # a failed weights download stops here, before any data is read
            model = build_model(s.spec())
        except WeightsError as exc:
            msg = f"params.yaml: 'models.{s.model}.weights' is {s.weights}: {exc}"
            raise WeightsError(msg) from None
        compile_model(model, s.optimizer, s.lr, s.task == "binary", runtime.jit_compile)
    backup = Backup(paths.train_backup_dir(s.model))
    done, rows = backup.open(_fingerprint(s))

    layout = Path(s.layout)
    train_files, train_targets = split_files(layout, "train", s.labels)
    val_files, val_targets = split_files(layout, "validation", s.labels)
    n_train = len(train_files)
    print(
        f"{s.model}: {s.arch} attention={s.attention} on {layout} ({n_train} train, "
        f"{len(val_files)} validation images, {len(s.labels)} labels, {s.image_size} px); "
        f"{runtime.device}, {runtime.strategy.num_replicas_in_sync} replica(s), "
        f"mixed precision {'on' if runtime.mixed_precision else 'off'}, "
        f"XLA {'on' if runtime.jit_compile else 'off'}"
        + (f"; resuming after epoch {done} from {backup.root}" if done else ""),
        flush=True,
    )
    shape = (s.image_size, len(s.labels), s.task == "binary")
    train_ds = train_stream(
        decoded(train_files, train_targets, *shape), n_train, s.batch_size, s.seed, done, s.epochs
    )
    val_ds = eval_stream(decoded(val_files, val_targets, *shape), s.batch_size)

    history_csv = paths.history_csv(s.model)
    write_history(history_csv, rows)
    live = Live(str(paths.live_dir(s.model)), dvcyaml=False, save_dvc_exp=False, report=None)
    _replay(live, rows)
    best_so_far = max((r["val_accuracy"] for r in rows), default=None)
    callbacks = [
        EpochSeeds(),
        EpochHistory(s, rows, [backup.history, history_csv], concise=not progress_bar),
        keras.callbacks.ModelCheckpoint(
            backup.best_weights,
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        DVCLiveCallback(live=live),
        # Last, so that an epoch counts as finished only once everything above is written.
        keras.callbacks.BackupAndRestore(str(backup.keras_dir), double_checkpoint=True),
    ]
    t0 = time.perf_counter()
    if done < s.epochs:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=s.epochs,
            steps_per_epoch=math.ceil(n_train / s.batch_size),
            callbacks=callbacks,
            shuffle=False,  # train_stream shuffles, seeded per epoch
            verbose=1 if progress_bar else 0,
        )
    else:  # killed after the last epoch but before publishing
        live.end()
    if len(rows) != s.epochs:
        raise RuntimeError(f"{s.model}: training stopped after {len(rows)} of {s.epochs} epochs")

    best = max(rows, key=lambda r: r["val_accuracy"])  # first of equals, like ModelCheckpoint
    n_params = _publish(s, backup)
    live.summary["best"] = {
        "epoch": best["epoch"],
        "val_accuracy": best["val_accuracy"],
        "val_loss": best["val_loss"],
    }
    live.make_summary()
    backup.remove()
    with contextlib.suppress(OSError):  # leave data/ tidy when no other backup remains
        paths.train_backup_dir(s.model).parent.rmdir()
    seconds = sum(
        (
            datetime.fromisoformat(r["end_time"]) - datetime.fromisoformat(r["start_time"])
        ).total_seconds()
        for r in rows
    )
    return {
        "model": s.model,
        "epochs": s.epochs,
        "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"],
        "best_val_loss": best["val_loss"],
        "params": n_params,
        "train_seconds": round(seconds, 3),
        "this_run_seconds": round(time.perf_counter() - t0, 3),
    }

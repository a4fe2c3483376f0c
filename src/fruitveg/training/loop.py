"""Training one model of params.yaml `models:` on its layout, resumable and reproducible.

`train(settings)` takes the checked TrainSettings (training.settings), builds the model,
reads the layout once into memory and fits, writing:

- data/models/<model>/model.keras + labels.json: the best epoch by val_accuracy, and
  trained_with.json: what decided its numbers beyond params.yaml (fruitveg.core.trained_with);
- plots/history/<model>.csv: one row per epoch (core.history);
- metrics/train/<model>/: dvclive's per-epoch metrics and summary.

Everything needed to resume after a kill lives in data/train_backup/<model>/ (training.backup).
A rerun with the same settings and layout carries on from the last finished epoch; the
epoch-seeded shuffle (training.inputs) and random layers (training.callbacks) make the
resumed epochs identical to an uninterrupted run. The backup is removed once the outputs
are in place.
"""

import contextlib
import hashlib
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from dvclive.utils import standardize_metric_name

from fruitveg.core import history, paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.core.errors import PipelineError
from fruitveg.core.history import Epoch
from fruitveg.models.backbones import WeightsError
from fruitveg.models.build import build_model
from fruitveg.scoring.loading import find_test_split
from fruitveg.scoring.test_logits import score_test_split
from fruitveg.training import cluster, keras_multiworker, saving
from fruitveg.training.backup import Backup, fingerprint
from fruitveg.training.callbacks import EpochHistory, EpochSeeds, SealBackup, StopOnNaN
from fruitveg.training.inputs import (
    balanced_class_weight,
    decoded,
    eval_stream,
    split_files,
    train_stream,
)
from fruitveg.training.runtime import Runtime, configure_runtime, trained_with
from fruitveg.training.settings import TrainSettings


def compile_model(model: keras.Model, optimizer: str, lr: float, binary: bool, jit: bool) -> None:
    """Optimizer by name, cross-entropy for the output type, accuracy as the metric."""
    opt = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
    loss = "binary_crossentropy" if binary else "categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"], jit_compile=jit)


def _replay(live: Live, rows: list[Epoch]) -> None:
    """Log the epochs a resumed run already finished, as DVCLiveCallback logged them."""
    for row in rows:
        for key in history.METRICS:
            live.log_metric(standardize_metric_name(key, "dvclive.keras"), getattr(row, key))
        live.next_step()


def _publish(s: TrainSettings, backup: Backup, root: Path, facts: dict[str, Any]) -> int:
    """Save the best epoch's weights as a float32 model file, with its labels, what it
    was trained with (fruitveg.core.trained_with) and its scores on the test split
    (fruitveg.scoring.test_logits: evaluate then needs no TensorFlow).

    The file holds the model alone, uncompiled: no optimizer state, a third of the size.
    """
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(replace(s.spec(), weights=None))  # weights come from the checkpoint
    model.load_weights(backup.best_weights)
    with atomic_dir(root / paths.model_dir(s.name)) as tmp:
        saving.save_model(model, tmp / "model.keras")
        write_json(tmp / "labels.json", list(s.layout.labels))
        write_json(tmp / paths.trained_with_json(s.name).name, facts)
        score_test_split(tmp, s.layout.root, model)
    return model.count_params()


@contextlib.contextmanager
def _output_root(runtime: Runtime) -> Iterator[Path]:
    """Where this process writes its outputs: the repository, or for a multi-worker task
    that is not the chief a temporary folder removed afterwards. Every worker runs the same
    callbacks, as Keras advises (a save may take part in collective ops); only the chief's
    files are kept."""
    if runtime.chief:
        yield Path()
        return
    with tempfile.TemporaryDirectory(prefix="fruitveg-worker-") as tmp:
        yield Path(tmp)


def _shard_by_example(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Each worker takes its share of every batch (file sharding does not apply here)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def train(s: TrainSettings, *, verbose: bool | None = None) -> dict[str, Any]:
    """Train the model of settings `s`; returns a summary of the run.

    verbose: Keras' progress bar (True) or one line per epoch (False); by default the
    progress bar only when stdout is a terminal.
    """
    progress_bar = sys.stdout.isatty() if verbose is None else verbose
    runtime = configure_runtime(s)
    with _output_root(runtime) as root:
        try:
            return _train(s, runtime, root, progress_bar)
        except tf.errors.OpError as exc:
            if not s.cluster:
                raise
            # A dead or unreachable worker aborts the collective ops of every other one.
            first = (exc.message or type(exc).__name__).strip().splitlines()[0]
            first = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", first)  # TF's op name
            raise PipelineError(
                f"{s.name}: multi-worker training stopped ({s.cluster.describe()}): "
                f"{type(exc).__name__}: {first}. A worker in TF_CONFIG is down or unreachable; "
                "start every worker again (the run starts afresh)"
            ) from None


def _train(s: TrainSettings, runtime: Runtime, root: Path, progress_bar: bool) -> dict[str, Any]:
    m, layout = s.model, s.layout
    with runtime.strategy.scope():
        try:  # a failed weights download stops here, before any data is read
            model = saving.in_memory(build_model(s.spec()))  # every checkpoint too
        except WeightsError as exc:
            msg = f"params.yaml: 'models.{m.name}.weights' is {m.weights}: {exc}"
            raise WeightsError(msg) from None
        compile_model(model, m.optimizer, m.lr, s.binary, runtime.jit_compile)
    if s.cluster:
        keras_multiworker.enable(model, runtime.strategy)
        # What must agree: settings, layout, versions, the cluster, and what each machine
        # resolved from 'auto' (precision, XLA) on its own hardware.
        same = f"{fingerprint(replace(s, cluster=None))} {s.cluster.jobs} {runtime.precision}"
        same += f" XLA {runtime.jit_compile}"
        cluster.check_same_run(
            runtime.strategy, hashlib.sha256(same.encode()).hexdigest(), s.cluster
        )
    backup = Backup(root / paths.train_backup_dir(m.name))
    # Only the chief keeps a backup, so a multi-worker run could not resume every worker
    # from the same epoch: it starts afresh.
    done, rows, discarded = backup.open(fingerprint(s), resume=s.cluster is None)

    find_test_split(layout.root)  # scored after training: missing, it stops before
    train_files, train_targets = split_files(layout.root, "train", layout.labels)
    val_files, val_targets = split_files(layout.root, "validation", layout.labels)
    n_train = len(train_files)
    steps = math.ceil(n_train / m.batch_size)
    if m.steps_per_epoch:
        steps = min(steps, m.steps_per_epoch)
    # The study weighted every image alike; balanced: the loss counts every label alike
    # (the binary task has 26 vegetable classes to 10 fruit ones).
    class_weight = None
    if m.class_weight == "balanced":
        class_weight = balanced_class_weight(train_targets, len(layout.labels))
    print(
        f"{m.name}: {m.arch} attention={m.attention} on {layout.root} ({n_train} train, "
        f"{len(val_files)} validation images, {len(layout.labels)} labels, "
        f"{layout.image_size} px); "
        f"{runtime.device}, {runtime.strategy.num_replicas_in_sync} replica(s), "
        f"mixed precision {'on' if runtime.mixed_precision else 'off'}, "
        f"XLA {'on' if runtime.jit_compile else 'off'}"
        + (f", class weights {m.class_weight}" if class_weight else "")
        + (f", {steps} batches an epoch (steps_per_epoch)" if m.steps_per_epoch else "")
        + (f"; resuming after epoch {done} from {backup.root}" if done else "")
        + (
            f"; starting afresh: the backup in {backup.root} was removed, {discarded}"
            if discarded
            else ""
        ),
        flush=True,
    )
    shape = (layout.image_size, len(layout.labels), s.binary)
    train_ds = train_stream(
        decoded(train_files, train_targets, *shape),
        n_train,
        m.batch_size,
        s.seed,
        done,
        m.epochs,
        steps,
    )
    val_ds = eval_stream(decoded(val_files, val_targets, *shape), m.batch_size)
    if s.cluster:
        train_ds, val_ds = _shard_by_example(train_ds), _shard_by_example(val_ds)

    history_csv = root / paths.history_csv(m.name)
    history.write(history_csv, rows)
    live = Live(str(root / paths.live_dir(m.name)), dvcyaml=False, save_dvc_exp=False, report=None)
    _replay(live, rows)
    best_so_far = max((r.val_accuracy for r in rows), default=None)
    callbacks = [
        StopOnNaN(s),  # first: nothing of a diverged epoch is saved
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
        # Kept after fit: backup.remove() clears it once the model is published, so a kill
        # before that resumes from the last epoch instead of training again.
        keras.callbacks.BackupAndRestore(str(backup.keras_dir), delete_checkpoint=False),
        # Last: an epoch counts as finished only once every file above is written.
        SealBackup(backup),
    ]
    t0 = time.perf_counter()
    if done < m.epochs:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=m.epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            shuffle=False,  # train_stream shuffles, seeded per epoch
            class_weight=class_weight,
            verbose=1 if progress_bar else 0,
        )
    else:  # killed after the last epoch but before publishing
        live.end()
    if len(rows) != m.epochs:
        raise RuntimeError(f"{m.name}: training stopped after {len(rows)} of {m.epochs} epochs")

    best = max(rows, key=lambda r: r.val_accuracy)  # first of equals, like ModelCheckpoint
    n_params = _publish(s, backup, root, trained_with(runtime))
    live.summary["best"] = {
        "epoch": best.epoch,
        "val_accuracy": best.val_accuracy,
        "val_loss": best.val_loss,
    }
    live.make_summary()
    backup.remove()
    with contextlib.suppress(OSError):  # leave data/ tidy when no other backup remains
        (root / paths.train_backup_dir(m.name)).parent.rmdir()
    return {
        "model": m.name,
        "epochs": m.epochs,
        "best_epoch": best.epoch,
        "best_val_accuracy": best.val_accuracy,
        "best_val_loss": best.val_loss,
        "params": n_params,
        "train_seconds": round(history.train_seconds(rows), 3),
        "this_run_seconds": round(time.perf_counter() - t0, 3),
    }

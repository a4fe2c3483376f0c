"""Where and how a model trains: seeds, op determinism, precision policy, strategy."""

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from fruitveg.training import precision
from fruitveg.training.cluster import multiworker_strategy
from fruitveg.training.settings import TrainSettings


@dataclass(frozen=True)
class Runtime:
    strategy: tf.distribute.Strategy
    device: str
    precision: str  # one of precision.PRECISIONS
    jit_compile: bool
    chief: bool = True  # writes the stage's outputs; False on the other multi-worker tasks

    @property
    def mixed_precision(self) -> bool:
        return self.precision != "float32"


def jit_compile(choice: str | bool, gpu: bool) -> bool:
    """XLA: auto turns it on only on a GPU; on a CPU it slows every model (bench/train_speed.py)."""
    return gpu if choice == "auto" else bool(choice)


def configure_runtime(s: TrainSettings) -> Runtime:
    """Seeds, op determinism, precision policy and the distribution strategy."""
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: already initialised, e.g. by an earlier train() in this process.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    # Collective ops are configured when TensorFlow starts, so before any op or device list.
    multiworker = multiworker_strategy(s.cluster) if s.cluster else None
    keras.utils.set_random_seed(s.seed)
    tf.config.experimental.enable_op_determinism()
    options = s.train
    chosen, why = precision.resolve(
        options.mixed_precision, s.model.arch, gpu=bool(gpus), flags=precision.cpu_flags()
    )
    keras.mixed_precision.set_global_policy(precision.POLICY[chosen])
    print(f"{s.name}: {chosen} ({why})", flush=True)

    logical_gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if multiworker:  # all GPUs of every worker, or its CPU
        strategy: tf.distribute.Strategy = multiworker
    elif options.distribute == "mirrored" or (
        options.distribute == "auto" and len(logical_gpus) > 1
    ):
        # On a machine without GPUs, 'mirrored' spreads over the logical CPU devices.
        devices = logical_gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        strategy = tf.distribute.get_strategy()
    device = f"{len(gpus)} GPU" if gpus else "CPU"
    if s.cluster:
        device += f", {s.cluster.describe()}"
    chief = s.cluster.is_chief if s.cluster else True
    return Runtime(strategy, device, chosen, jit_compile(options.jit_compile, bool(gpus)), chief)


def _onednn_on() -> bool | None:
    """Whether TensorFlow runs its oneDNN ops (TF_ENABLE_ONEDNN_OPTS); None: can't tell."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # no public API tells

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def trained_with(runtime: Runtime) -> dict[str, Any]:
    """What decides the numbers beyond params.yaml, as this process trains (the facts of
    fruitveg.core.trained_with): the precision and XLA it resolved, the device, the
    instruction set oneDNN runs on this processor, threads and versions."""
    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", "?") for g in gpus]
    hardware = ", ".join(dict.fromkeys(names)) if gpus else precision.cpu_name()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "precision": runtime.precision,
        "xla": runtime.jit_compile,
        "device": f"{runtime.device} ({hardware})",
        "cpu_isa": precision.onednn_isa(precision.cpu_flags(), os.environ),
        "onednn": _onednn_on(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpus_usable": usable,
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }

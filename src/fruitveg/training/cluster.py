"""The multi-worker cluster of `train.distribute: multiworker`, read from TF_CONFIG.

Every machine runs the same train stage with its own TF_CONFIG, which names every worker
and says which one this process is (TensorFlow's format):

    {"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": 0}}

A "chief" job of one address may stand beside the workers; without one, worker 0 is the
chief. The chief alone writes the stage's outputs (training.loop); the others train in
step with it and keep their copies in a temporary folder that is removed afterwards.
"""

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fruitveg.core.errors import PipelineError

HINT = (
    'set it on every machine, e.g. {"cluster": {"worker": ["host0:2222", "host1:2222"]}, '
    '"task": {"type": "worker", "index": 0}} (docs/distributed.md)'
)
JOBS = ("chief", "worker")

WAIT_ENV = "FRUITVEG_CLUSTER_WAIT_S"  # how long to wait for every worker to join
WAIT_DEFAULT_S = 600.0


@dataclass(frozen=True)
class Cluster:
    """Every task's address by job, and which task this process is."""

    jobs: tuple[tuple[str, tuple[str, ...]], ...]  # (job, addresses), chief first
    task_type: str
    task_index: int
    wait_s: float = WAIT_DEFAULT_S  # every worker must have joined within this time

    @property
    def size(self) -> int:
        return sum(len(addresses) for _, addresses in self.jobs)

    @property
    def is_chief(self) -> bool:
        has_chief = any(job == "chief" for job, _ in self.jobs)
        if has_chief:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    def describe(self) -> str:
        me = f"{self.task_type} {self.task_index}"
        role = "the chief" if self.is_chief else "not the chief"
        return f"{me} of {self.size} ({role})"


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster:
    """The cluster in TF_CONFIG, checked; the error names TF_CONFIG and what is wrong."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        raise PipelineError(f"train.distribute is multiworker but TF_CONFIG is not set: {HINT}")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PipelineError(f"TF_CONFIG is not valid JSON ({exc}): {HINT}") from None
    if not isinstance(config, dict):
        raise PipelineError(f"TF_CONFIG must be a JSON object: {HINT}")
    jobs = _jobs(config.get("cluster"))
    task = config.get("task")
    if not isinstance(task, dict):
        raise PipelineError(f"TF_CONFIG has no 'task' object: {HINT}")
    task_type, index = task.get("type"), task.get("index")
    sizes = dict((job, len(addresses)) for job, addresses in jobs)
    if task_type not in sizes:
        raise PipelineError(
            f"TF_CONFIG: task type {task_type!r} is not a job of its cluster "
            f"({', '.join(sizes)}): {HINT}"
        )
    if type(index) is not int or not 0 <= index < sizes[task_type]:
        raise PipelineError(
            f"TF_CONFIG: task index {index!r} is not one of the {sizes[task_type]} "
            f"{task_type} address(es) (0 to {sizes[task_type] - 1})"
        )
    return Cluster(jobs=jobs, task_type=task_type, task_index=index, wait_s=_wait_s(environ))


def _wait_s(environ: Mapping[str, str]) -> float:
    raw = environ.get(WAIT_ENV, "").strip()
    try:
        wait = float(raw) if raw else WAIT_DEFAULT_S
    except ValueError:
        wait = -1.0
    if not 0 < wait < float("inf"):
        raise PipelineError(f"{WAIT_ENV} must be a number of seconds above 0; got {raw!r}")
    return wait


def _jobs(cluster: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(cluster, dict) or not cluster:
        raise PipelineError(f"TF_CONFIG has no 'cluster' object: {HINT}")
    unknown = sorted(set(cluster) - set(JOBS))
    if unknown:
        # Parameter servers and evaluators belong to other strategies than this one.
        raise PipelineError(
            f"TF_CONFIG: cluster job(s) {', '.join(map(repr, unknown))} are not used by "
            f"MultiWorkerMirroredStrategy; list only {' and '.join(JOBS)}"
        )
    jobs = []
    seen: set[str] = set()
    for job in JOBS:
        if job not in cluster:
            continue
        addresses = cluster[job]
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and _is_address(a) for a in addresses)
        ):
            raise PipelineError(
                f"TF_CONFIG: cluster.{job} must be a list of 'host:port' strings; got {addresses!r}"
            )
        if job == "chief" and len(addresses) != 1:
            raise PipelineError(f"TF_CONFIG: cluster.chief must hold one address, not {addresses}")
        repeated = seen.intersection(addresses)
        if len(set(addresses)) != len(addresses) or repeated:
            raise PipelineError(f"TF_CONFIG: an address appears twice in the cluster: {cluster}")
        seen.update(addresses)
        jobs.append((job, tuple(addresses)))
    return tuple(jobs)


def _is_address(address: str) -> bool:
    host, sep, port = address.rpartition(":")
    return bool(host) and bool(sep) and port.isdigit() and 0 < int(port) < 65536


# Run as a separate process: while TensorFlow waits for the cluster, this process runs no
# Python at all (no thread, no signal handler; SIGINT and SIGTERM are ignored).
WATCHDOG = """
import os, select, signal, sys
pid, wait, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if not select.select([sys.stdin], [], [], wait)[0]:  # no word (or end) from the trainer
    sys.stderr.write(message)
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


def multiworker_strategy(cluster: Cluster) -> Any:
    """TensorFlow's MultiWorkerMirroredStrategy over the cluster in TF_CONFIG.

    Must run before TensorFlow starts its runtime (the first op or device listing), as
    collective ops are configured at start-up. Returns once every worker has joined;
    TensorFlow would wait for them forever, so a watchdog process ends this one with one
    message if they have not all joined within cluster.wait_s. (Once training runs,
    TensorFlow's heartbeats stop every worker within seconds when one is lost.)
    """
    import tensorflow as tf

    message = (
        f"error: multi-worker training ({cluster.describe()}): not every worker in TF_CONFIG "
        f"joined within {cluster.wait_s:g} s ({WAIT_ENV}); start all of them, and check that "
        "each can reach the others' addresses\n"
    )
    args = [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(cluster.wait_s), message]
    with subprocess.Popen(args, stdin=subprocess.PIPE) as watchdog:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        watchdog.stdin.close()  # joined: the watchdog ends quietly
    return strategy


def check_same_run(strategy: Any, digest: str, cluster: Cluster) -> None:
    """Stop unless every worker trains the same run: `digest` (a hex string) must agree.

    Workers with different settings or layouts would still exchange gradients, each
    applying them its own way, and give a model that none of them describes.
    """
    import tensorflow as tf

    values = tf.constant(list(bytes.fromhex(digest)), dtype=tf.float64)

    def summed(v: tf.Tensor) -> tf.Tensor:  # over every replica of every worker
        per_replica = strategy.experimental_distribute_values_from_function(lambda _: v)
        return strategy.reduce("SUM", per_replica, axis=None)

    # n values are all equal exactly when n * sum(x^2) == sum(x)^2 (exact: small integers).
    s1, s2 = summed(values), summed(values * values)
    n = strategy.num_replicas_in_sync
    if not bool(tf.reduce_all(n * s2 == s1 * s1)):
        raise PipelineError(
            f"multi-worker training ({cluster.describe()}): the workers differ in params.yaml, "
            "their layout files, their TensorFlow/Keras versions or the precision and XLA "
            "their hardware chose for 'auto'; give every machine the same commit, params.yaml "
            "and layout (dvc pull or dvc repro layout@<task>), and set train.mixed_precision "
            "and train.jit_compile when the machines differ"
        )

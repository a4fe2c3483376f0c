"""`train.distribute: multiworker`: two worker processes on 127.0.0.1, on CPU.

Each worker runs the train stage in its own copy of a tiny repository, as on separate
machines, with its own TF_CONFIG. The chief's outputs must be whole and match a
single-process run with the same global batch; the other worker must leave its copy and
its temporary folder as they were; a worker that dies must stop the other, not hang it.
"""

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from fruitveg.core import history
from fruitveg.training.loop import train
from fruitveg.training.settings import train_settings

from .helpers import TRAIN_SCRIPT, env, make_params, write_layout, write_params

LABELS = ("apple", "banana", "corn")
# Same global batch, same examples in each step: the two runs differ only in the order of
# floating-point sums (each worker's half batch, then the all-reduce), a few ulps per step.
RTOL, ATOL = 1e-5, 1e-7  # measured here: 7e-8 (history), 2e-7 (predictions) at most
STOP_WITHIN_S = 60  # a dead worker is noticed at the next collective or health check (5 s)


def _params(epochs: int) -> dict:
    # Dropout 0: each replica draws its own dropout mask, so with dropout the runs differ.
    p = make_params(cnn={"epochs": epochs, "batch_size": 4, "dropout": 0.0})
    p["train"] |= {"mixed_precision": "float32", "jit_compile": False}
    return p


def _repo(root: Path, p: dict) -> Path:
    write_layout(root, "multiclass", LABELS, {"train": 4, "validation": 2})
    write_params(root, p)
    return root


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(
    tmp_path: Path, p: dict, p1: dict | None = None
) -> list[tuple[subprocess.Popen, Path, Path]]:
    """Two `python stages/train.py cnn`, each in its own repository and TMPDIR; worker 1
    with params `p1` when given."""
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    started = []
    for index in range(2):
        repo = _repo(tmp_path / f"worker{index}", p1 if index and p1 else p)
        tmpdir = tmp_path / f"tmp{index}"
        tmpdir.mkdir()
        tf_config = {
            "cluster": {"worker": addresses},
            "task": {"type": "worker", "index": index},
        }
        proc = subprocess.Popen(
            [sys.executable, str(TRAIN_SCRIPT), "cnn"],
            cwd=repo,
            env=env(repo, TF_CONFIG=json.dumps(tf_config), TMPDIR=str(tmpdir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append((proc, repo, tmpdir))
    return started


def _files(root: Path) -> dict[str, int]:
    return {str(f.relative_to(root)): f.stat().st_size for f in root.rglob("*") if f.is_file()}


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.slow
def test_two_workers_match_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _params(epochs=2)
    p["train"]["distribute"] = "multiworker"
    started = _start_workers(tmp_path, p)
    (chief, chief_repo, _), (worker, worker_repo, worker_tmp) = started
    worker_before = _files(tmp_path / "worker0")  # both copies start the same
    try:
        outs = [proc.communicate(timeout=300) for proc, _, _ in started]
    finally:
        _stop([chief, worker])
    for (proc, _, _), (out, err) in zip(started, outs, strict=True):
        assert proc.returncode == 0, out + err
    assert "worker 0 of 2 (the chief), 2 replica(s)" in outs[0][0]
    assert "worker 1 of 2 (not the chief), 2 replica(s)" in outs[1][0]

    # The other worker wrote nothing into its repository and removed its temporary folder.
    assert _files(worker_repo) == worker_before
    assert list(worker_tmp.iterdir()) == []

    # The chief's outputs are whole: model, labels, both epochs' history, dvclive's summary.
    rows = history.read(chief_repo / "plots/history/cnn.csv")
    assert [r.epoch for r in rows] == [1, 2]
    assert json.loads((chief_repo / "data/models/cnn/labels.json").read_text()) == list(LABELS)
    live = json.loads((chief_repo / "metrics/train/cnn/metrics.json").read_text())
    assert live["step"] == 1 and live["best"]["epoch"] in (1, 2)
    assert not (chief_repo / "data/train_backup").exists()

    # The same settings in one process (distribute: none), same global batch of 4.
    single = tmp_path / "single"
    p["train"]["distribute"] = "none"
    _repo(single, p)
    monkeypatch.chdir(single)
    train(train_settings(p, "cnn"), verbose=False)
    expected = history.read(single / "plots/history/cnn.csv")
    got_rows = np.array([[getattr(r, k) for k in history.METRICS] for r in rows])
    want_rows = np.array([[getattr(r, k) for k in history.METRICS] for r in expected])
    print(f"largest relative difference in the history: {_relative(got_rows, want_rows):.1e}")
    for key in history.METRICS:
        np.testing.assert_allclose(
            [getattr(r, key) for r in rows],
            [getattr(r, key) for r in expected],
            rtol=RTOL,
            atol=ATOL,
            err_msg=key,
        )
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    got = keras.saving.load_model(chief_repo / "data/models/cnn/model.keras").predict(
        images, verbose=0
    )
    want = keras.saving.load_model(single / "data/models/cnn/model.keras").predict(
        images, verbose=0
    )
    print(f"largest relative difference in predictions: {_relative(got, want):.1e}")
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)))


@pytest.mark.slow
def test_a_dead_worker_stops_the_other(tmp_path: Path) -> None:
    p = _params(epochs=20)  # more than it can run before the kill lands
    p["train"]["distribute"] = "multiworker"
    started = _start_workers(tmp_path, p)
    (chief, chief_repo, _), (worker, _, _) = started
    try:
        for line in chief.stdout:  # wait for a finished epoch: both are training
            if line.startswith("cnn epoch 1/"):
                break
        worker.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        out, err = chief.communicate(timeout=STOP_WITHIN_S)
        stopped_after = time.monotonic() - t0
    finally:
        _stop([chief, worker])
    assert chief.returncode == 1, out + err
    assert "multi-worker training stopped (worker 0 of 2 (the chief))" in err
    assert "down or unreachable" in err
    assert "Traceback" not in err and "{{function_node" not in err
    assert stopped_after < STOP_WITHIN_S
    assert not (chief_repo / "data/models/cnn").exists()  # no half-written model
    print(f"the chief stopped {stopped_after:.1f} s after worker 1 was killed:", err[-600:])


@pytest.mark.slow
def test_workers_with_different_settings_stop_before_training(tmp_path: Path) -> None:
    p = _params(epochs=1)
    p["train"]["distribute"] = "multiworker"
    other = copy.deepcopy(p)
    other["models"]["cnn"]["lr"] = 1e-4  # each would apply the shared gradients its own way
    started = _start_workers(tmp_path, p, other)
    try:
        outs = [proc.communicate(timeout=300) for proc, _, _ in started]
    finally:
        _stop([proc for proc, _, _ in started])
    for (proc, repo, _), (out, err) in zip(started, outs, strict=True):
        assert proc.returncode == 1, out + err
        assert "the workers differ in params.yaml, their layout files" in err
        assert "epoch 1/" not in out
        assert not (repo / "data/models").exists()


@pytest.mark.slow
def test_a_worker_whose_peers_never_start_stops(tmp_path: Path) -> None:
    """TensorFlow would wait forever (ignoring SIGTERM); the watchdog ends it."""
    p = _params(epochs=1)
    p["train"]["distribute"] = "multiworker"
    repo = _repo(tmp_path / "alone", p)
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": 0}}
    extra = {"TF_CONFIG": json.dumps(tf_config), "FRUITVEG_CLUSTER_WAIT_S": "5"}
    done = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "cnn"],
        cwd=repo,
        env=env(repo, **extra),
        capture_output=True,
        text=True,
        timeout=STOP_WITHIN_S + 60,  # the interpreter and TensorFlow start first
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr  # by the watchdog
    assert (
        "not every worker in TF_CONFIG joined within 5 s (FRUITVEG_CLUSTER_WAIT_S)" in done.stderr
    )
    assert not (repo / "data/models").exists() and not (repo / "plots").exists()


def test_cluster_from_tf_config_names_the_chief() -> None:
    from fruitveg.training.cluster import read_cluster

    workers = {"worker": ["a:1", "b:2"]}
    one = read_cluster(
        {"TF_CONFIG": json.dumps({"cluster": workers, "task": {"type": "worker", "index": 1}})}
    )
    assert (one.size, one.is_chief) == (2, False)
    zero = read_cluster(
        {"TF_CONFIG": json.dumps({"cluster": workers, "task": {"type": "worker", "index": 0}})}
    )
    assert zero.is_chief and zero.describe() == "worker 0 of 2 (the chief)"
    # With a chief job, worker 0 is not the chief.
    both = {"chief": ["c:3"], **workers}
    w0 = read_cluster(
        {"TF_CONFIG": json.dumps({"cluster": both, "task": {"type": "worker", "index": 0}})}
    )
    chief = read_cluster(
        {"TF_CONFIG": json.dumps({"cluster": both, "task": {"type": "chief", "index": 0}})}
    )
    assert (w0.is_chief, chief.is_chief, chief.size) == (False, True, 3)


@pytest.mark.parametrize(
    ("tf_config", "message"),
    [
        (None, "TF_CONFIG is not set"),
        ("  ", "TF_CONFIG is not set"),
        ("{cluster", "TF_CONFIG is not valid JSON"),
        ("[]", "TF_CONFIG must be a JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no 'cluster' object"),
        ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG has no 'task' object"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
         "'ps' are not used by MultiWorkerMirroredStrategy"),
        ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}',
         "cluster.worker must be a list of 'host:port'"),
        ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
         "an address appears twice"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
         "task type 'chief' is not a job of its cluster"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
         "task index 1 is not one of the 1 worker"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}',
         "task index '0'"),
    ],
)  # fmt: skip
def test_a_bad_tf_config_is_named(tf_config: str | None, message: str) -> None:
    from fruitveg.core.errors import PipelineError
    from fruitveg.training.cluster import read_cluster

    environ = {} if tf_config is None else {"TF_CONFIG": tf_config}
    with pytest.raises(PipelineError, match="TF_CONFIG") as caught:
        read_cluster(environ)
    assert message in str(caught.value)


@pytest.mark.parametrize("wait", ["0", "-3", "soon", "inf", "nan"])
def test_a_bad_wait_is_named(wait: str) -> None:
    from fruitveg.core.errors import PipelineError
    from fruitveg.training.cluster import read_cluster

    tf_config = {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}
    environ = {"TF_CONFIG": json.dumps(tf_config), "FRUITVEG_CLUSTER_WAIT_S": wait}
    with pytest.raises(PipelineError, match="FRUITVEG_CLUSTER_WAIT_S must be a number"):
        read_cluster(environ)
    environ["FRUITVEG_CLUSTER_WAIT_S"] = "2.5"
    assert read_cluster(environ).wait_s == 2.5


def test_the_global_batch_must_split_evenly(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fruitveg.core.params import ParamError

    write_layout(repo, "multiclass", LABELS, {"train": 2, "validation": 1})
    p = _params(epochs=1)
    p["train"]["distribute"] = "multiworker"
    p["models"]["cnn"]["batch_size"] = 5
    cluster = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setitem(os.environ, "TF_CONFIG", json.dumps(cluster))
    with pytest.raises(ParamError, match=r"'models.cnn.batch_size' is 5, not a multiple of the 2"):
        train_settings(p, "cnn")
    monkeypatch.delitem(os.environ, "TF_CONFIG")
    with pytest.raises(Exception, match="TF_CONFIG is not set"):
        train_settings(p, "cnn")

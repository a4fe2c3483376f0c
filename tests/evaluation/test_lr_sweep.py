"""scripts/lr_sweep.py on a tiny real DVC pipeline whose stages are trivial scripts.

The pipeline has the real one's shape (train@<model> -> evaluate@<model>, metrics in
metrics/eval/<model>.json) but trains nothing, so queueing, the queue worker and
`dvc exp show` are exercised for real in seconds.
"""

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..repo_copy import alive
from .conftest import REPO, env, run

SWEEP = str(REPO / "scripts" / "lr_sweep.py")
PARAMS = "seed: 1\nmodels:\n  cnn:\n    lr: 1.0e-4\n  vgg16:\n    lr: 1.0e-5\n"
DVC_YAML = """\
stages:
  train:
    foreach: ${models}
    do:
      cmd: python train.py ${key}
      deps: [train.py]
      params: [seed, "models.${key}.lr"]
      outs: ["models/${key}.txt"]
  evaluate:
    foreach: ${models}
    do:
      cmd: python evaluate.py ${key}
      deps: [evaluate.py, "models/${key}.txt"]
      outs:
        - metrics/eval/${key}.json:
            cache: false
metrics:
  - metrics/eval/cnn.json
  - metrics/eval/vgg16.json
"""
# train.py logs every run outside the repository, so the test sees which stages ran; at
# lr 0.01 it says so (its pid in STARTED) and takes two minutes, for Ctrl-C to come.
TRAIN = """\
import os, pathlib, sys, time, yaml
model = sys.argv[1]
lr = float(yaml.safe_load(open("params.yaml"))["models"][model]["lr"])
if lr == 0.01:
    pathlib.Path(STARTED).write_text(str(os.getpid()))
    time.sleep(120)
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path(f"models/{model}.txt").write_text(repr(lr))
with open(RUN_LOG, "a") as log:
    log.write(f"{model} {lr!r}\\n")
"""
# "accuracy" peaks at lr = 1e-4: 1 - |log10(lr) + 4| / 10.
EVALUATE = """\
import json, math, pathlib, sys
model = sys.argv[1]
lr = float(pathlib.Path(f"models/{model}.txt").read_text())
gap = abs(math.log10(lr) + 4)
out = pathlib.Path(f"metrics/eval/{model}.json")
out.parent.mkdir(parents=True, exist_ok=True)
scores = {"accuracy": round(1 - gap / 10, 4), "loss": round(0.1 + gap / 5, 4)}
out.write_text(json.dumps({model: scores}))
"""


def runs(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def lr_sweep(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # the scripts import their _experiments
    return importlib.import_module("lr_sweep")


def test_rates_must_be_finite_and_positive(lr_sweep) -> None:
    assert lr_sweep.parse_rates(["1e-3", "3e-4"]) == [1e-3, 3e-4]
    for bad in ("inf", "1e400", "-inf", "nan", "0", "-1e-3"):
        with pytest.raises(lr_sweep.SweepError) as refused:
            lr_sweep.parse_rates(["1e-3", bad])
        assert str(refused.value) == f"--lr {bad!r}: a learning rate must be finite and > 0"


def fake_lock(seed: int = 1, epochs: int = 2, lr: float = 1e-4, other: int = 0) -> dict:
    """A dvc.lock of layout -> train@cnn -> evaluate@cnn, and explain and train@vgg16, which
    evaluate@cnn does not read."""
    stages = {
        "layout": {"params": {"params.yaml": {"seed": seed}}, "outs": [{"path": "data/l"}]},
        "train@cnn": {
            "deps": [{"path": "data/l/multiclass"}],
            "params": {"params.yaml": {"models.cnn": {"lr": lr, "epochs": epochs}}},
            "outs": [{"path": "models/cnn"}],
        },
        "evaluate@cnn": {"deps": [{"path": "models/cnn"}], "outs": [{"path": "m/cnn.json"}]},
        "explain": {"deps": [{"path": "models/cnn"}], "params": {"params.yaml": {"x": other}}},
        "train@vgg16": {"params": {"params.yaml": {"models.vgg16": {"lr": other}}}},
    }
    return {"schema": "2.0", "stages": stages}


def test_the_head_row_is_labelled_and_warned_of_where_the_settings_differ(
    lr_sweep, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    locks = {
        "HEAD (baseline)": fake_lock(),
        "cnn-lr-1e-3": fake_lock(lr=1e-3),
        "elsewhere": fake_lock(lr=1e-3, other=5),  # only what evaluate@cnn does not read
        "fewer-epochs": fake_lock(lr=1e-3, epochs=1),
        "other-seed": fake_lock(lr=1e-5, seed=7),
    }
    found = {name: {"rev": name} for name in locks}
    monkeypatch.setattr(lr_sweep, "lock", lambda data: locks[data["rev"]])
    assert lr_sweep.baseline_label(found, ["cnn-lr-1e-3", "elsewhere"], "cnn") == "HEAD (baseline)"
    assert capsys.readouterr().err == ""
    label = lr_sweep.baseline_label(found, ["cnn-lr-1e-3", "fewer-epochs", "other-seed"], "cnn")
    assert label == "HEAD (other params)"
    assert capsys.readouterr().err == (
        "lr_sweep: warning: the experiments ran evaluate@cnn with other settings than HEAD's "
        "metrics came from (models.cnn.epochs 2 -> 1; seed 1 -> 7; uncommitted changes go into "
        "experiments): the HEAD row is no baseline for them; commit params.yaml and rerun for "
        "one\n"
    )
    # HEAD never evaluated the model: nothing to compare.
    locks["HEAD (baseline)"] = {"stages": {}}
    assert lr_sweep.baseline_label(found, ["fewer-epochs"], "cnn") == "HEAD (baseline)"


@pytest.fixture
def pipeline(git_dvc_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    repo, log = git_dvc_repo, tmp_path / "runs.log"
    (repo / "params.yaml").write_text(PARAMS)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    started = tmp_path / "started"
    (repo / "train.py").write_text(f"RUN_LOG = {str(log)!r}\nSTARTED = {str(started)!r}\n" + TRAIN)
    (repo / "evaluate.py").write_text(EVALUATE)
    run(repo, sys.executable, "-m", "dvc", "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "baseline")
    assert runs(log) == ["cnn 0.0001", "vgg16 1e-05"]
    yield repo, log
    run(repo, sys.executable, "-m", "dvc", "queue", "stop", check=False)  # normally gone already


@pytest.mark.slow  # starts dvc, its queue worker and git
def test_sweep_yields_one_experiment_per_rate(pipeline):
    repo, log = pipeline
    done = run(repo, sys.executable, SWEEP, "--timeout", "240", timeout=300)
    table = done.stdout[done.stdout.index("| experiment") :].split("\n\n")[0].splitlines()
    assert table[0].split("|")[1:-1] == [
        " experiment      ", " models.cnn.lr ", " test accuracy ", " test loss "
    ]  # fmt: skip
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in table[2:]]
    assert cells == [
        ["HEAD (baseline)", "0.0001", "1.0000", "0.1000"],
        ["cnn-lr-1e-3", "0.001", "0.9000", "0.3000"],
        ["cnn-lr-1e-4", "0.0001", "1.0000", "0.1000"],
        ["cnn-lr-1e-5", "1e-05", "0.9000", "0.3000"],
    ]

    shown = json.loads(run(repo, sys.executable, "-m", "dvc", "exp", "show", "--json").stdout)
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            rev = exp["revs"][0]
            data = rev["data"]
            found[rev["name"]] = (
                data["params"]["params.yaml"]["data"]["models"]["cnn"]["lr"],
                data["metrics"]["metrics/eval/cnn.json"]["data"]["cnn"]["accuracy"],
                exp["executor"]["state"],
            )
    assert found == {
        "cnn-lr-1e-3": (0.001, 0.9, "success"),
        "cnn-lr-1e-4": (0.0001, 1.0, "success"),
        "cnn-lr-1e-5": (1e-05, 0.9, "success"),
    }
    # Only the varied model retrained; the unchanged rate and vgg16 came from DVC's cache.
    assert sorted(runs(log)[2:]) == ["cnn 0.001", "cnn 1e-05"]

    assert "Every headline metric that moved: dvc exp show --only-changed" in done.stdout
    # A second sweep keeps the first one's experiments and names its own apart.
    again = run(repo, sys.executable, SWEEP, "--lr", "1e-3", "--timeout", "120", timeout=180)
    assert "| cnn-lr-1e-3-2 " in again.stdout


@pytest.mark.slow
def test_sweep_refuses_an_unknown_model_or_rate_before_queueing(pipeline):
    repo, _ = pipeline
    bad = run(repo, sys.executable, SWEEP, "--model", "alexnet", check=False)
    assert bad.returncode == 1 and "unknown model 'alexnet' (models: has cnn, vgg16)" in bad.stderr
    for rate in ("0", "inf", "1e400"):
        bad = run(repo, sys.executable, SWEEP, "--lr", rate, check=False)
        assert bad.returncode == 1 and bad.stderr == (
            f"lr_sweep: --lr '{rate}': a learning rate must be finite and > 0\n"
        )
    bad = run(repo, sys.executable, SWEEP, "--jobs", "0", check=False)
    assert bad.returncode == 1 and "--jobs 0: at least one queue worker" in bad.stderr
    queued = run(repo, sys.executable, "-m", "dvc", "queue", "status").stdout
    assert "Queued" not in queued


def table_cells(stdout: str) -> list[list[str]]:
    table = stdout[stdout.index("| experiment") :].split("\n\n")[0].splitlines()
    return [[c.strip() for c in line.split("|")[1:-1]] for line in table[2:]]


@pytest.mark.slow
def test_uncommitted_settings_make_the_head_row_no_baseline(pipeline):
    repo, _ = pipeline
    (repo / "params.yaml").write_text(PARAMS.replace("seed: 1", "seed: 2"))  # not committed
    done = run(repo, sys.executable, SWEEP, "--lr", "1e-3", "--timeout", "240", timeout=300)
    assert table_cells(done.stdout) == [
        ["HEAD (other params)", "0.0001", "1.0000", "0.1000"],
        ["cnn-lr-1e-3", "0.001", "0.9000", "0.3000"],
    ]
    assert "lr_sweep: warning: the experiments ran evaluate@cnn with other settings than " \
        "HEAD's metrics came from (seed 1 -> 2; uncommitted" in done.stderr  # fmt: skip


def workers(repo: Path) -> list[int]:
    """The queue workers' pids that DVC's process manager lists, alive."""
    found = []
    for info in (repo / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.json"):
        pid = json.loads(info.read_text()).get("pid")
        if isinstance(pid, int) and alive(pid):
            found.append(pid)
    return found


@pytest.mark.slow
def test_ctrl_c_stops_the_queue_and_says_what_it_stopped(pipeline, tmp_path: Path):
    repo, _ = pipeline
    started = tmp_path / "started"
    # As a terminal's foreground job starts: SIGINT at its default. A shell without job
    # control (a CI runner's, `make test &`) starts commands with SIGINT ignored, exec keeps
    # it ignored and Python then never raises KeyboardInterrupt: the sweep ran to the end.
    # A handler set here is reset to the default in the child by exec.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sweep = subprocess.Popen(
            [sys.executable, SWEEP, "--lr", "1e-2", "1e-5", "--timeout", "300"], cwd=repo,
            env=env(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, ignored)
    train = None
    try:
        deadline = time.monotonic() + 180
        while not started.exists() and sweep.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), "train of cnn-lr-1e-2 never started"
        train = int(started.read_text())
        os.kill(sweep.pid, signal.SIGINT)  # what Ctrl-C sends it
        out, err = sweep.communicate(timeout=180)
        assert sweep.returncode == 1 and "Traceback" not in err, out + err
        assert err == (
            "lr_sweep: interrupted; removed cnn-lr-1e-5 from the queue; killed cnn-lr-1e-2; "
            "stopped the queue workers\n"
        )
        assert workers(repo) == []
        deadline = time.monotonic() + 30
        while alive(train) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(train), "the interrupted experiment's stage still runs"
        status = run(repo, sys.executable, "-m", "dvc", "queue", "status").stdout
        assert "Running" not in status and "Queued" not in status, status
    finally:  # whatever the outcome, nothing of this test goes on running
        if sweep.poll() is None:
            sweep.kill()
        run(repo, sys.executable, "-m", "dvc", "queue", "stop", "--kill", check=False)
        for pid in [*workers(repo), *([train] if train and alive(train) else [])]:
            os.kill(pid, signal.SIGKILL)

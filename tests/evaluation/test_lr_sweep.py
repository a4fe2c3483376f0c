"""scripts/lr_sweep.py on a tiny real DVC pipeline whose stages are trivial scripts.

The pipeline has the real one's shape (train@<model> -> evaluate@<model>, metrics in
metrics/eval/<model>.json) but trains nothing, so queueing, the queue worker and
`dvc exp show` are exercised for real in seconds.
"""

import json
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run

SWEEP = str(REPO / "scripts" / "lr_sweep.py")
pytestmark = pytest.mark.slow  # starts dvc and git
PARAMS = "seed: 1\nmodels:\n  cnn:\n    lr: 1.0e-4\n  vgg16:\n    lr: 1.0e-5\n"
DVC_YAML = """\
stages:
  train:
    foreach: ${models}
    do:
      cmd: python train.py ${key}
      deps: [train.py]
      params: ["models.${key}.lr"]
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
# train.py logs every run outside the repository, so the test sees which stages ran.
TRAIN = """\
import pathlib, sys, yaml
model = sys.argv[1]
lr = float(yaml.safe_load(open("params.yaml"))["models"][model]["lr"])
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
def pipeline(git_dvc_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    repo, log = git_dvc_repo, tmp_path / "runs.log"
    (repo / "params.yaml").write_text(PARAMS)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "train.py").write_text(f"RUN_LOG = {str(log)!r}\n" + TRAIN)
    (repo / "evaluate.py").write_text(EVALUATE)
    run(repo, sys.executable, "-m", "dvc", "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "baseline")
    assert runs(log) == ["cnn 0.0001", "vgg16 1e-05"]
    yield repo, log
    run(repo, sys.executable, "-m", "dvc", "queue", "stop", check=False)  # normally gone already


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


def test_sweep_refuses_an_unknown_model_or_rate_before_queueing(pipeline):
    repo, _ = pipeline
    bad = run(repo, sys.executable, SWEEP, "--model", "alexnet", check=False)
    assert bad.returncode == 1 and "unknown model 'alexnet' (models: has cnn, vgg16)" in bad.stderr
    bad = run(repo, sys.executable, SWEEP, "--lr", "0", check=False)
    assert bad.returncode == 1 and "--lr '0': a learning rate must be > 0" in bad.stderr
    bad = run(repo, sys.executable, SWEEP, "--jobs", "0", check=False)
    assert bad.returncode == 1 and "--jobs 0: at least one queue worker" in bad.stderr
    queued = run(repo, sys.executable, "-m", "dvc", "queue", "status").stdout
    assert "Queued" not in queued

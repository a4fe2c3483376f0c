"""`scripts/lr_sweep.py --jobs 2`: two queue workers at once, and the real push_db stage of
both experiments pushing at the same moment, into SQLite (the default) and MySQL.

The pipeline is a stand-in for training (a script writes each model's epoch history from its
learning rate) followed by the real push_db stage. Both steps of an experiment wait at a
rendezvous until the other experiment has reached the same step, so the test fails unless
the two workers really run together, and the two pushes overlap. Then every experiment's
rows must be in the table once each, carrying that experiment's own learning rate.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from db_helpers import PUSH, REPO, clean_env, mysql_env
from mariadb_server import DATABASE, MariaDB

pytestmark = pytest.mark.slow  # runs dvc's queue

SWEEP = REPO / "scripts" / "lr_sweep.py"
MODELS = ("binary_cnn", "cnn")
EPOCHS = 3
RATES = ("0.01", "0.0001")
BASE_LR = 0.001
TABLE = "sweep_logs"
# Writes plots/history/<model>.csv from the model's learning rate, as training would.
TRAIN = """\
import os, pathlib, sys, yaml
from rendezvous import meet
# SWEEP_STOP_WORKER: the first experiment to train leaves an empty message in the queue's
# folder, as one being written looks; the worker reading it stops after this experiment.
marker = os.environ.get("SWEEP_STOP_WORKER")
if marker and not os.path.exists(marker):
    open(marker, "w").close()
    inbox = pathlib.Path(os.environ["DVC_ROOT"], ".dvc/tmp/exps/celery/broker/in")
    (inbox / "0000000_half-written.celery.msg").touch()
model = sys.argv[1]
lr = float(yaml.safe_load(open("params.yaml"))["models"][model]["lr"])
meet("train")
rows = ["epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate"]
for e in range(1, {epochs} + 1):
    rows.append(f"{{e}},2026-11-28T08:{{e:02d}}:00+00:00,2026-11-28T08:{{e:02d}}:30+00:00,"
                f"{{1 / e}},{{lr * e}},{{1.1 / e}},{{lr * e / 2}},{{lr}}")
open(f"plots/history/{{model}}.csv", "w").write("\\n".join(rows) + "\\n")
"""
# Under the sweep (SWEEP_RENDEZVOUS set), wait until both experiments reach the same step.
RENDEZVOUS = """\
import os, pathlib, time
def meet(step, parties=2, timeout=120):
    folder = os.environ.get("SWEEP_RENDEZVOUS")
    if not folder:
        return
    here = pathlib.Path(folder, step)
    here.mkdir(parents=True, exist_ok=True)
    (here / os.environ.get("DVC_EXP_NAME", "?")).touch()
    deadline = time.monotonic() + timeout
    while len(list(here.iterdir())) < parties:
        if time.monotonic() > deadline:
            raise SystemExit(f"rendezvous {step}: no other experiment arrived in {timeout} s")
        time.sleep(0.05)
if __name__ == "__main__":
    import sys
    meet(sys.argv[1])
"""


def dvc_yaml() -> dict:
    return {
        "stages": {
            "train": {
                "foreach": MODELS,
                "do": {
                    "cmd": "python train.py ${item}",
                    "deps": ["train.py", "rendezvous.py"],
                    "params": ["models.${item}"],
                    "outs": [{"plots/history/${item}.csv": {"cache": False}}],
                },
            },
            "push_db": {
                "cmd": f"python rendezvous.py push_db && python {PUSH}",
                "deps": ["plots/history", "rendezvous.py"],
                "params": ["db", "models"],
                "outs": ["data/push_db/receipt.json"],
            },
        }
    }


def env(repo: Path, extra: dict[str, str]) -> dict[str, str]:
    return clean_env(extra) | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(repo / ".dvc" / "tmp" / "site_cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }


def sh(repo: Path, *args: str, extra: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        args, cwd=repo, env=env(repo, extra or {}), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def sweep(
    tmp_path: Path, target: dict[str, str], jobs: int = 2, stop_worker: bool = False
) -> tuple[Path, str, str, str]:
    """A committed stand-in pipeline reproduced once (the baseline's rows), then a two-job
    sweep of cnn's learning rate; returns the repository, the commit reproduced, the
    sweep's baseline commit and what the sweep printed."""
    repo = tmp_path / "repo"
    (repo / "plots" / "history").mkdir(parents=True)
    block = {"task": "multiclass", "arch": "cnn", "attention": "none", "lr": BASE_LR,
             "epochs": EPOCHS, "batch_size": 8, "optimizer": "adam", "dropout": 0.5}  # fmt: skip
    params = {
        "models": {m: dict(block) for m in MODELS},
        "db": {"table": TABLE, "sqlite_path": "data/push_db/training_logs.sqlite",
               "retries": 4, "retry_backoff_s": 0.2, "timeout_s": 30},
    }  # fmt: skip
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml(), sort_keys=False))
    (repo / "train.py").write_text(TRAIN.format(epochs=EPOCHS))
    (repo / "rendezvous.py").write_text(RENDEZVOUS)
    (repo / ".gitignore").write_text("/data/\n")
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, sys.executable, "-m", "dvc", "init", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")
    first = sh(repo, "git", "rev-parse", "HEAD").strip()
    sh(repo, sys.executable, "-m", "dvc", "repro", "-q", extra=target)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "baseline")
    baseline = sh(repo, "git", "rev-parse", "HEAD").strip()
    meeting = tmp_path / "rendezvous"
    extra = {"SWEEP_RENDEZVOUS": str(meeting)} if jobs == 2 else {}
    if stop_worker:
        extra["SWEEP_STOP_WORKER"] = str(tmp_path / "worker-stopped")
    try:
        out = sh(repo, sys.executable, str(SWEEP), "--jobs", str(jobs), "--lr", *RATES,
                 "--timeout", "240", extra=target | extra, timeout=300)  # fmt: skip
    finally:
        subprocess.run([sys.executable, "-m", "dvc", "queue", "stop"], cwd=repo,
                       env=env(repo, {}), capture_output=True)  # fmt: skip
    names = {f"cnn-lr-{r}" for r in ("1e-2", "1e-4")}
    for step in ("train", "push_db") if jobs == 2 else ():  # each met the other at both
        assert {p.name for p in (meeting / step).iterdir()} == names, step
    for name in names:
        assert f"| {name} " in out, out
    return repo, first, baseline, out


def check_rows(rows: list[tuple], first: str, baseline: str) -> None:
    """(run, exp_name, model_name, epoch, learning_rate) rows: the first `dvc repro`'s (run:
    the commit it ran on) and each experiment's (run: the sweep's baseline commit @ name),
    each complete and once."""
    keys = [(run, model, epoch) for run, _, model, epoch, _ in rows]
    assert len(keys) == len(set(keys)), "a row was pushed twice"
    expected_lr = {first: BASE_LR} | {
        f"{baseline}@cnn-lr-{name}": float(rate)
        for name, rate in zip(("1e-2", "1e-4"), RATES, strict=True)
    }
    assert {run for run, *_ in rows} == set(expected_lr)
    for run, lr in expected_lr.items():
        mine = sorted((m, e, rate, exp) for r, exp, m, e, rate in rows if r == run)
        exp_name = run.partition("@")[2] or None
        assert mine == sorted(
            (m, e, lr if m == "cnn" else BASE_LR, exp_name)
            for m in MODELS
            for e in range(1, EPOCHS + 1)
        ), run


def sqlite_rows(repo: Path) -> list[tuple]:
    with sqlite3.connect(repo / "data" / "push_db" / "training_logs.sqlite") as conn:
        return conn.execute(
            f"SELECT run, exp_name, model_name, epoch, learning_rate FROM {TABLE}"
        ).fetchall()


def test_a_queue_worker_that_stops_early_is_started_again(tmp_path: Path) -> None:
    """The worker stops after its first experiment with the second still queued (it read
    a half-written queue message): the sweep starts it again and finishes."""
    repo, first, baseline, out = sweep(tmp_path, {}, jobs=1, stop_worker=True)
    assert (tmp_path / "worker-stopped").exists()
    assert "still queued: starting them again (1 of 3)" in out, out
    check_rows(sqlite_rows(repo), first, baseline)


def test_two_jobs_push_every_experiment_once_into_sqlite(tmp_path: Path) -> None:
    repo, first, baseline, _ = sweep(tmp_path, {})
    check_rows(sqlite_rows(repo), first, baseline)


def test_two_jobs_push_every_experiment_once_into_mysql(tmp_path: Path, mariadb: MariaDB) -> None:
    mariadb.sql(f"DROP TABLE IF EXISTS {TABLE}")
    repo, first, baseline, _ = sweep(tmp_path, mysql_env(mariadb))
    rows = mariadb.sql(
        f"SELECT run, exp_name, model_name, epoch, learning_rate FROM {TABLE}", database=DATABASE
    )
    check_rows([tuple(r) for r in rows], first, baseline)
    assert not (repo / "data" / "push_db" / "training_logs.sqlite").exists()

"""The stage against its embedded default, a SQLite file: in-process, except one run of
the scripts themselves; kills and concurrency with pushes in child processes."""

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from db_helpers import EPOCHS, Repo, history_csv, paused, start_push, wait_until

from fruitveg.db.rows import RunIdentity


def stored(repo: Repo, table: str = "training_logs") -> list[tuple]:
    conn = sqlite3.connect(repo.sqlite)
    try:
        return conn.execute(
            f'SELECT run, model_name, epoch, train_accuracy FROM "{table}" ORDER BY 1, 2, 3'
        ).fetchall()
    finally:
        conn.close()


RECEIPT_TARGET = {
    "backend": "sqlite",
    "path": "data/push_db/training_logs.sqlite",
    "table": "training_logs",
}


def test_stage_fills_the_sqlite_default_and_a_rerun_adds_nothing(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo()
    first = repo.push()
    assert first.returncode == 0, first.stderr
    assert f"{repo.rows} rows into SQLite file data/push_db/training_logs.sqlite" in first.stdout
    rows = stored(repo)
    assert len(rows) == repo.rows and {r[0] for r in rows} == {"no-git"}
    assert repo.receipt() == {
        "rows_written": repo.rows,
        "epochs": dict.fromkeys(repo.models, EPOCHS),
        "target": RECEIPT_TARGET,
        "run": {"id": "no-git", "git_rev": None, "exp_name": None},
    }

    # A rerun with a changed history updates in place: same rows, new values.
    (repo.root / "plots/history/cnn.csv").write_text(history_csv("cnn", shift=0.25))
    assert repo.push().returncode == 0
    again = stored(repo)
    assert len(again) == repo.rows
    assert [r for r in again if r[1] == "cnn"][0][3] == 0.51 + 0.25


@pytest.mark.slow
def test_the_scripts_run_as_processes(make_repo: Callable[..., Repo]) -> None:
    """`python stages/push_db.py` and `python stages/show_logs.py`, as DVC and a user run them."""
    repo = make_repo()
    pushed = repo.push_script({"DVC_EXP_NAME": "e1"})
    assert pushed.returncode == 0, pushed.stderr
    assert f"push_db: {repo.rows} rows into SQLite file" in pushed.stdout
    assert repo.receipt()["target"] == RECEIPT_TARGET
    shown = repo.show_script("--csv", "--model", "cnn")
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == 1 + EPOCHS
    (repo.root / "plots/history/cnn.csv").unlink()
    failed = repo.push_script()
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("error: ") and "cnn.csv" in failed.stderr


def test_experiments_are_separate_runs_and_show_logs_filters(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo()
    for name in ("lr-1e-3", "lr-1e-4"):
        assert repo.push({"DVC_EXP_NAME": name}).returncode == 0
    assert len(stored(repo)) == 2 * repo.rows

    shown = repo.show("--model", "cnn", "--run", "no-git@lr-1e-3")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:4] == ["model_name", "epoch", "start_time", "end_time"]
    body = lines[1:-1]
    assert len(body) == EPOCHS and all(" cnn " in f" {line} " for line in body)
    assert all(line.rstrip().endswith("no-git@lr-1e-3") for line in body)
    assert "2026-11-28 08:01:00.123456" in shown.stdout
    assert lines[-1].startswith(f"{EPOCHS} rows from SQLite file")

    as_csv = repo.show("--csv", "--run", "no-git@", "--model", "cnn", "--model", "resnet50")
    assert len(as_csv.stdout.splitlines()) == 1 + 2 * 2 * EPOCHS
    by_exp = repo.show("--csv", "--exp", "lr-1e-4")
    assert len(by_exp.stdout.splitlines()) == 1 + repo.rows
    assert all(line.endswith("no-git@lr-1e-4") for line in by_exp.stdout.splitlines()[1:])
    empty = repo.show("--model", "vgg16")
    assert empty.returncode == 0 and empty.stdout.startswith("no rows")


def test_show_logs_before_any_push_says_so(make_repo: Callable[..., Repo]) -> None:
    result = make_repo().show()
    assert result.returncode == 1
    assert "data/push_db/training_logs.sqlite: not found; nothing has been pushed" in result.stderr


def test_a_missing_or_broken_history_is_named(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    history = repo.root / "plots/history"
    (history / "cnn.csv").write_text(history_csv("cnn") + "4,x,y,1,1,1,1,1\n")
    broken = repo.push()
    assert broken.returncode == 1 and "cnn.csv, line 6" in broken.stderr
    (history / "cnn.csv").unlink()
    missing = repo.push()
    assert missing.returncode == 1 and "cnn.csv: training history not found" in missing.stderr
    assert not repo.sqlite.exists()


HOSTILE_EXP = "x'); DROP TABLE training_logs; -- \"`"


def test_hostile_text_is_only_ever_a_value(make_repo: Callable[..., Repo]) -> None:
    """Model names are checked file names (core.params); an experiment's name is free text
    and goes through query parameters, into the table and into show_logs' filter."""
    repo = make_repo()
    result = repo.push({"DVC_EXP_NAME": HOSTILE_EXP})
    assert result.returncode == 0, result.stderr
    assert {r[0] for r in stored(repo)} == {f"no-git@{HOSTILE_EXP}"}
    shown = repo.show("--csv", "--exp", HOSTILE_EXP, "--model", "cnn")
    assert shown.stdout.count("DROP TABLE") == EPOCHS


def test_a_hostile_model_name_stops_the_stage_before_any_write(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo(models=("cnn", "x'); DROP TABLE training_logs; --"))
    result = repo.push()
    assert result.returncode == 1 and "model name" in result.stderr
    assert not repo.sqlite.exists()


def test_a_hostile_table_name_stops_the_stage_before_any_write(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo(table='logs"; DROP TABLE training_logs; --')
    result = repo.push()
    assert result.returncode == 1
    assert "db.table" in result.stderr and "not a valid table name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not repo.sqlite.exists()


def test_a_push_killed_halfway_commits_nothing_and_the_rerun_completes(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    repo = make_repo()
    pause = tmp_path / "pause"
    child = start_push(repo.target(), repo.epoch_rows(), RunIdentity(None, None), pause, EPOCHS)
    wait_until(lambda: paused(pause) == 1, "the push to pause mid-transaction")
    child.kill()
    assert stored(repo) == []  # the rows sent before the kill were never committed
    assert repo.push().returncode == 0
    assert len(stored(repo)) == repo.rows


def test_two_pushes_at_once_lose_and_duplicate_nothing(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    """As two `dvc queue` workers would: the second waits for the first's write lock."""
    repo = make_repo()
    target, rows = repo.target(), repo.epoch_rows()
    pause = tmp_path / "pause"
    first = start_push(target, rows, RunIdentity(None, "a"), pause, after_rows=EPOCHS)
    wait_until(lambda: paused(pause) == 1, "the first push to hold its transaction open")
    second = start_push(target, rows, RunIdentity(None, "b"))
    same = start_push(target, rows, RunIdentity(None, "a"))
    time.sleep(0.3)  # let both reach the lock
    (pause / "resume").touch()
    for child in (first, second, same):
        assert child.finish() == ("ok", repo.rows)
    rows_stored = stored(repo)
    assert len(rows_stored) == len(set(rows_stored)) == 2 * repo.rows
    assert {r[0] for r in rows_stored} == {"no-git@a", "no-git@b"}

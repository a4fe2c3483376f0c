"""The stage against its embedded default, a SQLite file: in-process, except one run of
the scripts themselves; kills and concurrency with pushes in child processes."""

import math
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from db_helpers import EPOCHS, Repo, history_csv, paused, start_push, wait_until

from fruitveg.db.backend import COLUMNS
from fruitveg.db.rows import RunIdentity
from fruitveg.db.sqlite import SQLite

SQLITE = SQLite(Path("unused"), "unused")


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


def make_table(repo: Repo, key: str = "") -> None:
    """training_logs as someone else made it: our columns, and `key` (none by default)."""
    repo.sqlite.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f'"{c}" {SQLITE.types[c]}' for c in COLUMNS)
    with closing(sqlite3.connect(repo.sqlite)) as conn:
        conn.execute(f'CREATE TABLE "training_logs" ({columns}{key})')
        conn.commit()


def test_a_table_without_the_key_is_refused_until_the_statement_given_is_run(
    make_repo: Callable[..., Repo],
) -> None:
    """Before, the upsert failed with SQLite's own words and no way forward."""
    repo = make_repo()
    make_table(repo)
    refused = repo.push()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "has no primary key or unique index on exactly (run, model_name, epoch)" in (
        refused.stderr
    )
    fix = refused.stderr.strip().rsplit(": ", 1)[1]
    assert fix == (
        'CREATE UNIQUE INDEX "training_logs_run_model_epoch" ON "training_logs" '
        '("run", "model_name", "epoch")'
    )
    assert stored(repo) == []
    with closing(sqlite3.connect(repo.sqlite)) as conn:
        conn.execute(fix)
        conn.commit()
    for _ in range(2):
        assert repo.push().returncode == 0
    assert len(stored(repo)) == repo.rows


@pytest.mark.parametrize(
    "key",
    [
        ', UNIQUE ("run", "model_name")',
        ', UNIQUE ("run", "model_name", "epoch", "pushed_at")',
    ],
)
def test_a_key_that_is_not_exactly_run_model_epoch_is_refused(
    make_repo: Callable[..., Repo], key: str
) -> None:
    repo = make_repo()
    make_table(repo, key)
    result = repo.push()
    assert result.returncode == 1 and "CREATE UNIQUE INDEX" in result.stderr
    assert stored(repo) == []


def test_a_null_sqlite_path_is_named_and_no_file_is_made(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(sqlite_path=None)
    result = repo.push()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "db.sqlite_path is missing or null" in result.stderr
    assert not [p for p in repo.root.rglob("*") if "None" in p.name]


def test_a_db_env_that_is_not_utf8_is_named_without_its_text(
    make_repo: Callable[..., Repo],
) -> None:
    repo = make_repo()
    (repo.root / "db.env").write_bytes(b"FRUITVEG_DB_USER=u\nFRUITVEG_DB_PASSWORD=caf\xe9-Zq9\n")
    result = repo.push()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: db.env, line 2: not UTF-8 text" in result.stderr
    assert "Zq9" not in result.stderr + result.stdout
    assert not repo.sqlite.exists()


@pytest.mark.parametrize(
    ("setting", "value"),
    [("retry_backoff_s", math.inf), ("retry_backoff_s", 1e308), ("timeout_s", math.nan)],
)
def test_waits_that_cannot_be_waited_are_refused(
    make_repo: Callable[..., Repo], setting: str, value: float
) -> None:
    result = make_repo(**{setting: value}).push()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"params.yaml: 'db.{setting}' must be a number" in result.stderr

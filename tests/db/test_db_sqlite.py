"""The stage against its embedded default, a SQLite file, run as a real process."""

import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

from db_helpers import EPOCHS, Repo, finish, history_csv, pause_env, paused, wait_until


def stored(repo: Repo, table: str = "training_logs") -> list[tuple]:
    with sqlite3.connect(repo.sqlite) as conn:
        return conn.execute(
            f'SELECT run, model_name, epoch, train_accuracy FROM "{table}" ORDER BY 1, 2, 3'
        ).fetchall()


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
        "target": {
            "backend": "sqlite",
            "path": "data/push_db/training_logs.sqlite",
            "table": "training_logs",
        },
        "run": {"id": "no-git", "git_rev": None, "exp_name": None},
    }

    # A rerun with a changed history updates in place: same rows, new values.
    (repo.root / "plots/history/cnn.csv").write_text(history_csv("cnn", shift=0.25))
    assert repo.push().returncode == 0
    again = stored(repo)
    assert len(again) == repo.rows
    assert [r for r in again if r[1] == "cnn"][0][3] == 0.51 + 0.25


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


HOSTILE_MODEL = "x'); DROP TABLE training_logs; -- \"`"


def test_a_hostile_model_name_is_only_ever_a_value(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(models=("cnn", HOSTILE_MODEL))
    result = repo.push()
    assert result.returncode == 0, result.stderr
    assert {r[1] for r in stored(repo)} == {"cnn", HOSTILE_MODEL}
    shown = repo.show("--csv", "--model", HOSTILE_MODEL)
    assert shown.stdout.count("DROP TABLE") == EPOCHS


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
    proc = repo.start_push(pause_env(pause, after_rows=EPOCHS))
    wait_until(lambda: paused(pause) == 1, "the push to pause mid-transaction")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert stored(repo) == []  # the rows sent before the kill were never committed
    assert repo.push().returncode == 0
    assert len(stored(repo)) == repo.rows


def test_two_pushes_at_once_lose_and_duplicate_nothing(
    make_repo: Callable[..., Repo], tmp_path: Path
) -> None:
    """As two `dvc queue` workers would: the second waits for the first's write lock."""
    repo = make_repo()
    pause = tmp_path / "pause"
    first = repo.start_push({"DVC_EXP_NAME": "a"} | pause_env(pause, after_rows=EPOCHS))
    wait_until(lambda: paused(pause) == 1, "the first push to hold its transaction open")
    second = repo.start_push({"DVC_EXP_NAME": "b"})
    same = repo.start_push({"DVC_EXP_NAME": "a"})
    (pause / "resume").touch()
    for proc in (first, second, same):
        code, _, err = finish(proc)
        assert code == 0, err
    rows = stored(repo)
    assert len(rows) == len(set(rows)) == 2 * repo.rows
    assert {r[0] for r in rows} == {"no-git@a", "no-git@b"}

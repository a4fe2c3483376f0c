"""The stage against real MariaDB servers: plain, TLS-only, faults, concurrency, errors.

The stage runs in-process (db_helpers.Repo.push), except one run of the scripts; kills and
concurrent pushes run push() in forked child processes that stop inside the transaction.
"""

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from db_helpers import EPOCHS, Repo, mysql_env, paused, start_push, wait_until
from mariadb_server import PASSWORD, X509_USER, FlakyProxy, MariaDB, TlsServer, free_port

from fruitveg.db.push import push
from fruitveg.db.rows import RunIdentity


@pytest.fixture
def table() -> str:
    """A table of its own for each test on the shared server."""
    return f"logs_{uuid.uuid4().hex[:10]}"


def count(server: MariaDB, table: str, run: str | None = None) -> int:
    where, args = (" WHERE run = %s", (run,)) if run else ("", ())
    ((n,),) = server.sql(f"SELECT COUNT(*) FROM `{table}`{where}", args)
    return n


def assert_no_secret(*outputs: str) -> None:
    for text in outputs:
        assert PASSWORD not in text


def test_stage_fills_mysql_and_a_rerun_adds_nothing(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    repo = make_repo(table=table)
    env = mysql_env(mariadb)
    first = repo.push(env)
    assert first.returncode == 0, first.stderr
    assert count(mariadb, table) == repo.rows
    second = repo.push(env | {"DVC_EXP_NAME": "exp-1"})
    third = repo.push(env | {"DVC_EXP_NAME": "exp-1"})
    assert second.returncode == third.returncode == 0
    assert count(mariadb, table) == 2 * repo.rows
    assert count(mariadb, table, "no-git@exp-1") == repo.rows

    receipt = repo.receipt()
    assert receipt["target"] == {
        "backend": "mysql",
        "host": "127.0.0.1",
        "port": mariadb.port,
        "database": "fruitveg",
        "table": table,
        "tls_verified": False,
    }
    assert receipt["rows_written"] == repo.rows
    assert receipt["run"] == {"id": "no-git@exp-1", "git_rev": None, "exp_name": "exp-1"}
    assert_no_secret(first.stdout, first.stderr, third.stdout, str(receipt))
    assert "pusher" not in str(receipt)

    ((start, acc, lr),) = mariadb.sql(
        f"SELECT start_time, train_accuracy, learning_rate FROM `{table}` "
        "WHERE model_name = 'cnn' AND epoch = 2 AND run = 'no-git'"
    )
    assert (str(start), acc, lr) == ("2026-11-28 08:02:00.123456", 0.52, 1e-4)

    shown = repo.show("--csv", "--model", "cnn", "--run", "no-git@", env=env)
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == 1 + EPOCHS
    assert_no_secret(shown.stdout, shown.stderr)


@pytest.mark.slow
def test_the_scripts_against_mysql(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """As processes: retries shown on stderr, one error line, the password nowhere."""
    repo = make_repo(table=table)
    bad = repo.push_script(mysql_env(mariadb, FRUITVEG_DB_PASSWORD="wrong-" + PASSWORD[::-1]))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        f"error: MySQL server 127.0.0.1:{mariadb.port}: access denied: wrong user or password "
        "(check FRUITVEG_DB_USER and FRUITVEG_DB_PASSWORD)"
    ]
    proxy = FlakyProxy(mariadb.port, refuse=1)
    try:
        good = repo.push_script(mysql_env(mariadb, FRUITVEG_DB_PORT=str(proxy.port)))
    finally:
        proxy.close()
    assert good.returncode == 0, good.stderr
    assert good.stderr.startswith("push_db: MySQL server") and "retry 1 of 2" in good.stderr
    assert count(mariadb, table) == repo.rows
    shown = repo.show_script("--csv", "--model", "cnn", env=mysql_env(mariadb))
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 1 + EPOCHS
    assert_no_secret(bad.stdout, bad.stderr, good.stdout, good.stderr, shown.stdout, shown.stderr)


def test_tls_with_the_right_ca_verifies_and_a_wrong_ca_is_rejected(
    mariadb_tls: TlsServer, make_repo: Callable[..., Repo], table: str
) -> None:
    server = mariadb_tls.server
    repo = make_repo(table=table)
    good = repo.push(mysql_env(server, FRUITVEG_DB_SSL_CA=str(mariadb_tls.ca)))
    assert good.returncode == 0, good.stderr
    assert repo.receipt()["target"]["tls_verified"] is True
    assert count(server, table) == repo.rows

    bad = repo.push(mysql_env(server, FRUITVEG_DB_SSL_CA=str(mariadb_tls.wrong_ca)))
    assert bad.returncode == 1
    assert "TLS failure: the server's certificate failed verification" in bad.stderr
    assert "check FRUITVEG_DB_SSL_CA" in bad.stderr and "Traceback" not in bad.stderr
    assert_no_secret(bad.stdout, bad.stderr)


def test_a_client_certificate_is_presented_when_given(
    mariadb_tls: TlsServer, make_repo: Callable[..., Repo], table: str
) -> None:
    server = mariadb_tls.server
    repo = make_repo(table=table)
    env = mysql_env(server, FRUITVEG_DB_USER=X509_USER, FRUITVEG_DB_SSL_CA=str(mariadb_tls.ca))
    without = repo.push(env)
    assert without.returncode == 1 and "access denied" in without.stderr
    with_cert = repo.push(
        env
        | {
            "FRUITVEG_DB_SSL_CERT": str(mariadb_tls.client_cert),
            "FRUITVEG_DB_SSL_KEY": str(mariadb_tls.client_key),
        }
    )
    assert with_cert.returncode == 0, with_cert.stderr
    assert count(server, table) == repo.rows


def test_each_connection_failure_is_one_clear_message_without_secrets(
    mariadb: MariaDB, mariadb_tls: TlsServer, make_repo: Callable[..., Repo], table: str
) -> None:
    repo = make_repo(table=table)
    cases = {
        "unknown host": (
            {"FRUITVEG_DB_HOST": "no-such-host.invalid"},
            "no-such-host.invalid:",
            "unknown host (check FRUITVEG_DB_HOST",
        ),
        "refused": (
            {"FRUITVEG_DB_PORT": str(free_port())},
            "connection refused",
            "gave up after 3 attempt(s)",
        ),
        "bad password": (
            {"FRUITVEG_DB_PASSWORD": "wrong-" + PASSWORD[::-1]},
            "access denied: wrong user or password",
            "check FRUITVEG_DB_USER and FRUITVEG_DB_PASSWORD",
        ),
        "no TLS on server": (
            {"FRUITVEG_DB_SSL_CA": str(mariadb_tls.ca)},
            "TLS failure: the server does not offer TLS",
            f"MySQL server 127.0.0.1:{mariadb.port}",
        ),
        "unknown database": (
            {"FRUITVEG_DB_NAME": "nope"},
            "access to database 'nope' denied: it does not exist",
            f"127.0.0.1:{mariadb.port}",
        ),
    }
    for name, (extra, *phrases) in cases.items():
        result = repo.push(mysql_env(mariadb, **extra))
        assert result.returncode == 1, name
        error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
        assert len(error_lines) == 1, (name, result.stderr)
        for phrase in phrases:
            assert phrase in error_lines[0], (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert_no_secret(result.stdout, result.stderr)
        assert "wrong-" not in result.stderr
        assert not (repo.root / "data/push_db/receipt.json").exists()


def test_transient_failures_are_retried_with_backoff_and_bounded(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    repo = make_repo(table=table, retries=3, retry_backoff_s=0.2)
    proxy = FlakyProxy(mariadb.port, refuse=2)  # the server drops two connections, then serves
    try:
        result = repo.push(mysql_env(mariadb, FRUITVEG_DB_PORT=str(proxy.port)))
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert "retry 1 of 3" in result.stderr and "retry 2 of 3" in result.stderr
    assert "retry 3 of 3" not in result.stderr
    assert proxy.accepted == 3 and count(mariadb, table) == repo.rows

    proxy = FlakyProxy(mariadb.port, refuse=1000)  # never serves
    started = time.monotonic()
    try:
        result = repo.push(mysql_env(mariadb, FRUITVEG_DB_PORT=str(proxy.port)))
    finally:
        proxy.close()
    assert result.returncode == 1
    assert proxy.accepted == 4  # one try and three retries, no more
    assert time.monotonic() - started >= 0.2 + 0.4 + 0.8  # doubling backoff was waited
    assert "gave up after 4 attempt(s)" in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_a_connection_cut_mid_push_rolls_back_and_the_retry_completes(
    mariadb: MariaDB,
    make_repo: Callable[..., Repo],
    table: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = make_repo(table=table)
    proxy = FlakyProxy(mariadb.port)
    cuts: list[int] = []

    def cut_once(sent: int) -> None:
        """Inside the open transaction, after the first model's rows: drop the line."""
        if not cuts:
            cuts.append(sent)
            assert count(mariadb, table) == 0
            proxy.cut_all()

    try:
        target = repo.target(mysql_env(mariadb, FRUITVEG_DB_PORT=str(proxy.port)))
        sent = push(target, repo.epoch_rows(), RunIdentity(None, None), after_batch=cut_once)
    finally:
        proxy.close()
    assert cuts == [EPOCHS] and sent == repo.rows
    assert "connection lost" in caplog.text and "retry 1 of 2" in caplog.text
    assert count(mariadb, table) == repo.rows


def test_a_push_killed_halfway_commits_nothing_and_the_rerun_completes(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str, tmp_path: Path
) -> None:
    repo = make_repo(table=table)
    pause = tmp_path / "pause"
    target, rows = repo.target(mysql_env(mariadb)), repo.epoch_rows()
    child = start_push(target, rows, RunIdentity(None, None), pause, after_rows=2 * EPOCHS)
    wait_until(lambda: paused(pause) == 1, "the push to pause mid-transaction")
    child.kill()
    assert count(mariadb, table) == 0
    rerun = repo.push(mysql_env(mariadb))
    assert rerun.returncode == 0, rerun.stderr
    assert count(mariadb, table) == repo.rows


def test_two_pushes_at_once_lose_and_duplicate_nothing(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str, tmp_path: Path
) -> None:
    """Two `dvc queue` workers pushing different experiments, both transactions open at
    once; then a third pushing the same run as one that is still open."""
    repo = make_repo(table=table)
    target, rows = repo.target(mysql_env(mariadb)), repo.epoch_rows()
    pause = tmp_path / "pause"
    children = [
        start_push(target, rows, RunIdentity(None, name), pause, after_rows=EPOCHS)
        for name in ("a", "b")
    ]
    wait_until(lambda: paused(pause) == 2, "both pushes to be inside their transactions")
    assert count(mariadb, table) == 0
    # Same run as `a`: it waits on a's row locks until a commits, then updates in place.
    children.append(start_push(target, rows, RunIdentity(None, "a")))
    time.sleep(0.5)
    (pause / "resume").touch()
    for child in children:
        assert child.finish() == ("ok", repo.rows)
    assert count(mariadb, table, "no-git@a") == count(mariadb, table, "no-git@b") == repo.rows
    assert count(mariadb, table) == 2 * repo.rows


HOSTILE_EXP = "x'); DROP TABLE x; -- \"`"


def test_hostile_names_never_reach_the_sql_text(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    repo = make_repo(table=table)
    result = repo.push(mysql_env(mariadb, DVC_EXP_NAME=HOSTILE_EXP))
    assert result.returncode == 0, result.stderr
    names = {n for (n,) in mariadb.sql(f"SELECT DISTINCT exp_name FROM `{table}`")}
    assert names == {HOSTILE_EXP}
    shown = repo.show("--csv", "--exp", HOSTILE_EXP, env=mysql_env(mariadb))
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 1 + repo.rows

    hostile_table = f"{table}`; DROP TABLE `{table}`; --"
    refused = repo.push(mysql_env(mariadb, FRUITVEG_DB_TABLE=hostile_table))
    assert refused.returncode == 1 and "FRUITVEG_DB_TABLE" in refused.stderr
    assert count(mariadb, table) == repo.rows  # still there, untouched

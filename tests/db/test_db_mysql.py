"""The stage against real MariaDB servers: plain, TLS-only, faults, concurrency, errors.

The stage runs in-process (db_helpers.Repo.push), except one run of the scripts; kills and
concurrent pushes run push() in forked child processes that stop inside the transaction.
"""

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from db_helpers import EPOCHS, Repo, mysql_env, paused, start_push, wait_until
from mariadb_server import PASSWORD, X509_USER, FlakyProxy, MariaDB, TlsServer, free_port

from fruitveg.db.backend import COLUMNS, MAX_RUN
from fruitveg.db.mysql import MySQL
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


# --- tables made elsewhere, and the least-privilege user ---------------------------------


def make_table(server: MariaDB, table: str, extra: str = "", **types: str) -> None:
    """The table as someone else made it: our columns (types overridable), plus `extra`."""
    columns = ", ".join(f"`{c}` {types.get(c, MySQL.types[c])}" for c in COLUMNS)
    server.sql(f"CREATE TABLE `{table}` ({columns}{extra}) {MySQL.table_options}")


def statement(stderr: str, start: str) -> str:
    """The SQL statement a message ends with."""
    found = re.search(rf"({start} .*)$", stderr.strip())
    assert found, stderr
    return found[1]


def test_a_table_without_the_key_is_refused_until_the_statement_given_is_run(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """Before, each push inserted its rows again (twice the rows after two pushes)."""
    make_table(mariadb, table)
    repo = make_repo(table=table)
    env = mysql_env(mariadb)
    refused = repo.push(env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "has no primary key or unique index on exactly (run, model_name, epoch)" in (
        refused.stderr
    )
    fix = statement(refused.stderr, "ALTER TABLE")
    assert fix == (
        f"ALTER TABLE `{table}` ADD UNIQUE KEY `run_model_epoch` (`run`, `model_name`, `epoch`)"
    )
    assert count(mariadb, table) == 0

    # Rows an older push duplicated: the message counts them; the key cannot be added yet.
    row = "('r', 'cnn', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NOW(6))"
    mariadb.sql(f"INSERT INTO `{table}` VALUES {row}, {row}, {row}")
    again = repo.push(env)
    assert again.returncode == 1
    assert "holds 1 (run, model_name, epoch) key(s) more than once" in again.stderr
    assert statement(again.stderr, "ALTER TABLE") == fix
    mariadb.sql(f"DELETE FROM `{table}` WHERE run = 'r' LIMIT 2")

    mariadb.sql(fix)
    for _ in range(2):
        assert repo.push(env).returncode == 0
    assert count(mariadb, table) == repo.rows + 1


@pytest.mark.parametrize(
    "key",
    [
        ", PRIMARY KEY (`run`(20), `model_name`, `epoch`)",  # a prefix: long runs would merge
        ", UNIQUE KEY (`run`, `model_name`)",  # epochs would overwrite each other
        ", UNIQUE KEY (`run`, `model_name`, `epoch`, `pushed_at`)",  # never matches again
    ],
)
def test_a_key_that_is_not_exactly_run_model_epoch_is_refused(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str, key: str
) -> None:
    make_table(mariadb, table, key)
    result = make_repo(table=table).push(mysql_env(mariadb))
    assert result.returncode == 1 and "ADD UNIQUE KEY `run_model_epoch`" in result.stderr
    assert count(mariadb, table) == 0


def test_a_table_keyed_by_its_own_id_and_a_unique_run_model_epoch_is_used(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    key = ", `id` BIGINT AUTO_INCREMENT PRIMARY KEY, UNIQUE KEY k (`epoch`, `run`, `model_name`)"
    make_table(mariadb, table, key)
    repo = make_repo(table=table)
    for _ in range(2):
        result = repo.push(mysql_env(mariadb))
        assert result.returncode == 0, result.stderr
    assert count(mariadb, table) == repo.rows


def test_a_user_with_select_insert_update_only_pushes_once_the_table_exists(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """The README's least-privilege user: no CREATE once the table is there."""
    user = f"least_{table[-10:]}"
    for host in ("127.0.0.1", "localhost"):
        mariadb.sql(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{PASSWORD}'", database=None)
        mariadb.sql(f"GRANT SELECT, INSERT, UPDATE ON fruitveg.* TO '{user}'@'{host}'")
    repo = make_repo(table=table)
    least = mysql_env(mariadb, FRUITVEG_DB_USER=user)
    assert repo.push(mysql_env(mariadb)).returncode == 0  # an owner made the table once
    for _ in range(2):
        pushed = repo.push(least | {"DVC_EXP_NAME": "least"})
        assert pushed.returncode == 0, pushed.stderr
    assert count(mariadb, table, "no-git@least") == repo.rows
    assert count(mariadb, table) == 2 * repo.rows

    missing = repo.push(least | {"FRUITVEG_DB_TABLE": f"{table}_new"})  # CREATE is needed
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert f"the user lacks a privilege on table '{table}_new'" in missing.stderr
    assert "CREATE while the table does not exist" in missing.stderr
    assert_no_secret(pushed.stdout, pushed.stderr, missing.stderr)


def test_a_run_as_long_as_allowed_is_stored_whole(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """run, git_rev and exp_name hold as many characters as a run may have (191)."""
    repo = make_repo(table=table)
    exp = "e" * (MAX_RUN - len("no-git@"))
    result = repo.push(mysql_env(mariadb, DVC_EXP_NAME=exp))
    assert result.returncode == 0, result.stderr
    assert mariadb.sql(f"SELECT DISTINCT run, exp_name FROM `{table}`") == [(f"no-git@{exp}", exp)]


def test_a_narrower_table_is_refused_until_the_statement_given_widens_it(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """A table made by the earlier schema: exp_name VARCHAR(128), git_rev VARCHAR(64)."""
    key = ", PRIMARY KEY (`run`, `model_name`, `epoch`)"
    make_table(mariadb, table, key, exp_name="VARCHAR(128) NULL", git_rev="VARCHAR(64) NULL")
    repo = make_repo(table=table)
    refused = repo.push(mysql_env(mariadb))
    assert refused.returncode == 1
    assert "column(s) git_rev (varchar(64)), exp_name (varchar(128)) narrower" in refused.stderr
    fix = statement(refused.stderr, "ALTER TABLE")
    assert fix == (
        f"ALTER TABLE `{table}` MODIFY `git_rev` VARCHAR(191) NULL, "
        "MODIFY `exp_name` VARCHAR(191) NULL"
    )
    assert count(mariadb, table) == 0
    mariadb.sql(fix)
    result = repo.push(mysql_env(mariadb, DVC_EXP_NAME="e" * 150))
    assert result.returncode == 0, result.stderr
    assert count(mariadb, table) == repo.rows


def test_names_mysql_would_compare_without_trailing_spaces_are_refused(
    mariadb: MariaDB, make_repo: Callable[..., Repo], table: str
) -> None:
    """utf8mb4_bin pads: 'cnn' and 'cnn ' would be one key, one model overwriting the other."""
    spaced = make_repo(models=("cnn", "cnn "), table=table).push(mysql_env(mariadb))
    assert spaced.returncode == 1 and "model name 'cnn '" in spaced.stderr
    assert mariadb.sql("SHOW TABLES LIKE %s", (table,)) == []  # stopped before any SQL

    repo = make_repo(table=table)
    exp = repo.push(mysql_env(mariadb, DVC_EXP_NAME="lr-1e-3 "))
    assert exp.returncode == 1
    assert "DVC_EXP_NAME 'lr-1e-3 ' ends in white space: remove it" in exp.stderr
    assert mariadb.sql("SHOW TABLES LIKE %s", (table,)) == []

"""Per-epoch training histories into a `training_logs` table: MySQL/MariaDB or SQLite.

One push is one transaction of upserts keyed on (run, model_name, epoch), so a rerun adds
no rows and a push cut off halfway commits nothing. Identifiers are validated and quoted;
every value goes through query parameters. Errors become a DbError whose message names the
target and the likely fix and never holds a secret.
"""

import csv
import logging
import math
import os
import random
import socket
import sqlite3
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import mysql.connector
from mysql.connector import errorcode

from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import HISTORY_COLUMNS
from fruitveg.db.config import (
    ENV_HOST,
    ENV_NAME,
    ENV_PASSWORD,
    ENV_SSL_CA,
    ENV_USER,
    Target,
    validate_identifier,
)

log = logging.getLogger(__name__)  # the stage shows warnings (retries) on stderr

KEY_COLUMNS = ("run", "model_name", "epoch")
VALUE_COLUMNS = (
    "start_time",
    "end_time",
    "train_accuracy",
    "val_accuracy",
    "train_loss",
    "val_loss",
    "learning_rate",
    "git_rev",
    "exp_name",
    "pushed_at",
)
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS
SHOWN_COLUMNS = (
    "model_name",
    "epoch",
    "start_time",
    "end_time",
    "train_accuracy",
    "val_accuracy",
    "train_loss",
    "val_loss",
    "learning_rate",
    "run",
)
MAX_MODEL_NAME = 64
MAX_RUN = 191  # 191 utf8mb4 characters = 764 bytes: fits InnoDB's 767-byte key column limit

# Test hook: pause inside the open transaction once this many rows are sent, so a test can
# kill the process there or hold two pushes open at once. Unset in normal use.
PAUSE_AFTER_ROWS = "FRUITVEG_DB_TEST_PAUSE_AFTER_ROWS"
PAUSE_DIR = "FRUITVEG_DB_TEST_PAUSE_DIR"

T = TypeVar("T")


class DbError(PipelineError):
    """The push or query failed; the message says where and what to check, without secrets."""


@dataclass(frozen=True)
class RunIdentity:
    """Which run the rows belong to: the git revision and, under `dvc exp`, the experiment."""

    git_rev: str | None
    exp_name: str | None

    @property
    def run(self) -> str:
        rev = self.git_rev or "no-git"
        return f"{rev}@{self.exp_name}" if self.exp_name else rev

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.run, "git_rev": self.git_rev, "exp_name": self.exp_name}


@dataclass(frozen=True)
class EpochRow:
    model_name: str
    epoch: int
    start_time: datetime | None
    end_time: datetime | None
    train_accuracy: float | None
    val_accuracy: float | None
    train_loss: float | None
    val_loss: float | None
    learning_rate: float | None


def _git_head(cwd: Path | None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):  # no git installed
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None  # not a repository, or no commit


def run_identity(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> RunIdentity:
    """The git revision (HEAD, or DVC's baseline under `dvc exp`) and DVC_EXP_NAME if set.

    `dvc exp run` (in the workspace or a queue worker) sets DVC_EXP_NAME and
    DVC_EXP_BASELINE_REV in the stage's environment; plain `dvc repro` sets neither.
    """
    environ = os.environ if environ is None else environ
    rev = environ.get("DVC_EXP_BASELINE_REV") or _git_head(cwd)
    identity = RunIdentity(git_rev=rev, exp_name=environ.get("DVC_EXP_NAME") or None)
    if len(identity.run) > MAX_RUN:
        raise DbError(f"run identity longer than {MAX_RUN} characters: {identity.run[:60]}...")
    return identity


def validate_model_name(name: Any) -> str:
    """Model names are stored as values (any text) but also name a history file."""
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_MODEL_NAME
        or any(c in name for c in "/\\\0")
        or name.startswith(".")
    ):
        raise DbError(
            f"model name {name!r}: expected 1-{MAX_MODEL_NAME} characters, "
            "no slash, backslash or NUL, not starting with '.'"
        )
    return name


def _time(value: str, where: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DbError(f"{where}: not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is not None:  # stored as naive UTC (MySQL DATETIME has no zone)
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _float(value: str, where: str) -> float | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise DbError(f"{where}: not a number: {value!r}") from None
    return number if math.isfinite(number) else None  # MySQL DOUBLE holds no NaN/inf


def read_history(path: Path, model: str) -> list[EpochRow]:
    """One model's per-epoch history CSV (the contract in paths.history_csv)."""
    validate_model_name(model)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in HISTORY_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DbError(f"{path}: missing column(s) {', '.join(missing)}")
            rows: list[EpochRow] = []
            seen: set[int] = set()
            for line, rec in enumerate(reader, start=2):
                where = f"{path}, line {line}"
                try:
                    epoch = int(rec["epoch"])
                except ValueError:
                    raise DbError(f"{where}: epoch must be a whole number") from None
                if epoch < 1 or epoch in seen:
                    raise DbError(f"{where}: epoch {epoch} is below 1 or repeated")
                seen.add(epoch)
                rows.append(
                    EpochRow(
                        model_name=model,
                        epoch=epoch,
                        start_time=_time(rec["start_time"], where),
                        end_time=_time(rec["end_time"], where),
                        train_accuracy=_float(rec["accuracy"], where),
                        val_accuracy=_float(rec["val_accuracy"], where),
                        train_loss=_float(rec["loss"], where),
                        val_loss=_float(rec["val_loss"], where),
                        learning_rate=_float(rec["learning_rate"], where),
                    )
                )
    except FileNotFoundError:
        raise DbError(f"{path}: history not found (train model '{model}' first)") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DbError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DbError(f"{path}: no epochs in the history")
    return rows


# --- dialects -------------------------------------------------------------------------


class _Dialect:
    name = ""
    mark = ""
    types: Mapping[str, str] = {}
    table_suffix = ""

    def quote(self, identifier: str) -> str:
        raise NotImplementedError

    def create_table(self, table: str) -> str:
        cols = ", ".join(f"{self.quote(c)} {self.types[c]}" for c in COLUMNS)
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.quote(table)} ({cols}, PRIMARY KEY ({key}))"
            f"{self.table_suffix}"
        )

    def insert(self, table: str) -> str:
        cols = ", ".join(self.quote(c) for c in COLUMNS)
        marks = ", ".join([self.mark] * len(COLUMNS))
        return f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({marks})"

    def upsert(self, table: str) -> str:
        raise NotImplementedError

    def value(self, v: Any) -> Any:
        return v


class _MySQL(_Dialect):
    name = "mysql"
    mark = "%s"
    types = {
        "run": "VARCHAR(191) NOT NULL",
        "model_name": "VARCHAR(64) NOT NULL",
        "epoch": "INT NOT NULL",
        "start_time": "DATETIME(6) NULL",
        "end_time": "DATETIME(6) NULL",
        "train_accuracy": "DOUBLE NULL",
        "val_accuracy": "DOUBLE NULL",
        "train_loss": "DOUBLE NULL",
        "val_loss": "DOUBLE NULL",
        "learning_rate": "DOUBLE NULL",
        "git_rev": "VARCHAR(64) NULL",
        "exp_name": "VARCHAR(128) NULL",
        "pushed_at": "DATETIME(6) NOT NULL",
    }
    table_suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    def quote(self, identifier: str) -> str:
        return f"`{identifier}`"

    def upsert(self, table: str) -> str:
        # VALUES(col) rather than MySQL 8's row alias: MariaDB knows only the former.
        sets = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in VALUE_COLUMNS)
        return f"{self.insert(table)} ON DUPLICATE KEY UPDATE {sets}"


class _SQLite(_Dialect):
    name = "sqlite"
    mark = "?"
    types = {
        "run": "TEXT NOT NULL",
        "model_name": "TEXT NOT NULL",
        "epoch": "INTEGER NOT NULL",
        "start_time": "TEXT",  # 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
        "end_time": "TEXT",
        "train_accuracy": "REAL",
        "val_accuracy": "REAL",
        "train_loss": "REAL",
        "val_loss": "REAL",
        "learning_rate": "REAL",
        "git_rev": "TEXT",
        "exp_name": "TEXT",
        "pushed_at": "TEXT NOT NULL",
    }

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'

    def upsert(self, table: str) -> str:
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        sets = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in VALUE_COLUMNS)
        return f"{self.insert(table)} ON CONFLICT ({key}) DO UPDATE SET {sets}"

    def value(self, v: Any) -> Any:
        # Same text form MySQL prints, without relying on sqlite3's deprecated adapters.
        return v.isoformat(sep=" ", timespec="microseconds") if isinstance(v, datetime) else v


# --- connections and errors -----------------------------------------------------------


def _connect(target: Target) -> tuple[Any, _Dialect]:
    if target.host is None:
        assert target.sqlite_path is not None
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE/COMMIT ourselves; timeout waits
        # for a concurrent writer (another push) instead of failing at once.
        conn = sqlite3.connect(
            target.sqlite_path, timeout=max(target.timeout_s, 30), isolation_level=None
        )
        return conn, _SQLite()
    options: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "database": target.database,
        "user": target.user,
        "password": target.password,
        "connection_timeout": target.timeout_s,  # also bounds every read and write
        "autocommit": False,
        "charset": "utf8mb4",
        # The connector's default collation (utf8mb4_0900_ai_ci) does not exist on MariaDB.
        "collation": "utf8mb4_general_ci",
        # The pure-Python protocol does TLS through Python's ssl module and the system's
        # OpenSSL; the C extension links its own client library, whose TLS stack varies
        # by release (26.x fails to load beside Debian 12's OpenSSL). Pushes are small.
        "use_pure": True,
    }
    if target.ssl_ca is not None:
        # A CA given means: verify the server's certificate and that it names the host.
        options.update(ssl_ca=str(target.ssl_ca), ssl_verify_cert=True, ssl_verify_identity=True)
    if target.ssl_cert is not None and target.ssl_key is not None:
        options.update(ssl_cert=str(target.ssl_cert), ssl_key=str(target.ssl_key))
    return mysql.connector.connect(**options), _MySQL()


_TRANSIENT_MYSQL = {
    errorcode.CR_CONN_HOST_ERROR,  # refused or timed out: the server may be restarting
    errorcode.CR_CONNECTION_ERROR,
    errorcode.CR_SERVER_GONE_ERROR,
    errorcode.CR_SERVER_LOST,
    errorcode.CR_SERVER_LOST_EXTENDED,
    errorcode.ER_CON_COUNT_ERROR,
    errorcode.ER_LOCK_DEADLOCK,
    errorcode.ER_LOCK_WAIT_TIMEOUT,
    errorcode.ER_SERVER_SHUTDOWN,
    1927,  # MariaDB ER_CONNECTION_KILLED
}


def _explain(exc: BaseException, target: Target) -> tuple[bool, str]:
    """(transient?, message) for a failure; messages are ours, never the raw server text
    where it could echo credentials."""
    where = target.where()
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        transient = isinstance(exc, sqlite3.OperationalError) and "locked" in text
        return transient, f"{where}: {text}"
    if isinstance(exc, OSError):
        return False, f"{where}: {exc.strerror or exc.__class__.__name__}"
    if not isinstance(exc, mysql.connector.Error):
        return False, f"{where}: {exc.__class__.__name__}"
    errno = exc.errno or 0
    text = exc.msg or ""
    cause = exc.__cause__
    if isinstance(cause, ssl.SSLError) or errno == errorcode.CR_SSL_CONNECTION_ERROR:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = f"the server's certificate failed verification: {cause.verify_message}"
        elif "doesn't support" in text:
            reason = "the server does not offer TLS"
        else:
            reason = getattr(cause, "reason", None) or "handshake failed"
        hint = f"check {ENV_SSL_CA}" if target.ssl_ca else "check the server's TLS settings"
        return False, f"{where}: TLS failure: {reason}; {hint}"
    if errno == errorcode.CR_UNKNOWN_HOST or isinstance(cause, socket.gaierror):
        return False, f"{where}: unknown host (check {ENV_HOST} or db.host)"
    if errno == errorcode.ER_ACCESS_DENIED_ERROR:
        return False, (
            f"{where}: access denied: wrong user or password (check {ENV_USER} and {ENV_PASSWORD})"
        )
    if errno == errorcode.ER_DBACCESS_DENIED_ERROR:
        return False, (
            f"{where}: access to database '{target.database}' denied: it does not exist "
            f"or the user has no rights on it (check {ENV_NAME})"
        )
    if errno == errorcode.ER_TABLEACCESS_DENIED_ERROR:
        return False, f"{where}: the user lacks a privilege on table '{target.table}'"
    if errno == errorcode.ER_NO_SUCH_TABLE:
        return False, f"{where}: table '{target.table}' not found; nothing has been pushed yet"
    if errno == errorcode.ER_BAD_DB_ERROR:
        return False, f"{where}: database '{target.database}' does not exist"
    if errno == errorcode.CR_CONN_HOST_ERROR:
        reason = (
            "connection refused"
            if isinstance(cause, ConnectionRefusedError)
            else "connection timed out"
            if isinstance(cause, TimeoutError)
            else "cannot connect"
        )
        return True, f"{where}: {reason} (is the server up? check {ENV_HOST} and port)"
    if errno in _TRANSIENT_MYSQL:
        return True, f"{where}: connection lost or transaction aborted (MySQL error {errno})"
    return False, f"{where}: MySQL error {errno}: {_scrub(text, target)}"


def _scrub(text: str, target: Target) -> str:
    return text.replace(target.password, "***") if target.password else text


def _with_retries(target: Target, action: Callable[[Any, _Dialect], T]) -> T:
    """Run action on a fresh connection; on a transient error, back off and run it again."""
    attempts = target.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            conn, dialect = _connect(target)
            with closing(conn):
                return action(conn, dialect)
        except DbError:
            raise
        except (mysql.connector.Error, sqlite3.Error, OSError) as exc:
            transient, message = _explain(exc, target)
            if not transient:
                raise DbError(message) from None
            if attempt == attempts:
                raise DbError(f"{message}; gave up after {attempts} attempt(s)") from None
            delay = target.retry_backoff_s * 2 ** (attempt - 1) * random.uniform(1.0, 1.5)
            log.warning("%s; retry %d of %d in %.1f s", message, attempt, target.retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _ensure_table(cur: Any, dialect: _Dialect, table: str, where: str) -> None:
    cur.execute(dialect.create_table(table))
    cur.execute(f"SELECT * FROM {dialect.quote(table)} WHERE 1 = 0")
    cur.fetchall()
    present = {d[0].lower() for d in cur.description}
    missing = [c for c in COLUMNS if c not in present]
    if missing:
        raise DbError(
            f"{where}: table '{table}' exists without column(s) {', '.join(missing)}; "
            "it was made by something else: choose another db.table or migrate it"
        )


def _pause_for_tests(rows_sent: int) -> None:
    after = os.environ.get(PAUSE_AFTER_ROWS)
    folder = os.environ.get(PAUSE_DIR)
    if not after or not folder or rows_sent < int(after):
        return
    os.environ.pop(PAUSE_AFTER_ROWS)  # once per process
    Path(folder, f"paused.{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not Path(folder, "resume").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _record(row: EpochRow, run: RunIdentity, pushed_at: datetime) -> tuple[Any, ...]:
    """One row's values in COLUMNS order."""
    values = {
        "run": run.run,
        "git_rev": run.git_rev,
        "exp_name": run.exp_name,
        "pushed_at": pushed_at,
        **{c: getattr(row, c) for c in COLUMNS if hasattr(row, c)},
    }
    return tuple(values[c] for c in COLUMNS)


def push(target: Target, rows: Sequence[EpochRow], run: RunIdentity) -> int:
    """Upsert the rows in one transaction (retried whole on transient errors)."""
    table = validate_identifier(target.table, "db.table")
    if len(run.run) > MAX_RUN:
        raise DbError(f"run identity longer than {MAX_RUN} characters")
    for row in rows:
        validate_model_name(row.model_name)
    pushed_at = datetime.now(UTC).replace(tzinfo=None)
    by_model: dict[str, list[EpochRow]] = {}
    for row in rows:
        by_model.setdefault(row.model_name, []).append(row)

    def once(conn: Any, dialect: _Dialect) -> int:
        cur = conn.cursor()
        # DDL first: in MySQL it commits implicitly, so it must not sit inside the push.
        _ensure_table(cur, dialect, table, target.where())
        conn.commit()  # end the read's implicit transaction before starting ours
        if dialect.name == "sqlite":
            cur.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-push
        else:
            conn.start_transaction()
        sql = dialect.upsert(table)
        sent = 0
        try:
            for model_rows in by_model.values():
                values = [
                    tuple(dialect.value(v) for v in _record(r, run, pushed_at)) for r in model_rows
                ]
                cur.executemany(sql, values)
                sent += len(values)
                _pause_for_tests(sent)
            conn.commit()
        except BaseException:
            with suppress(Exception):
                conn.rollback()
            raise
        return sent

    return _with_retries(target, once)


def fetch(
    target: Target, models: Iterable[str] = (), run_prefix: str = "", exp_name: str = ""
) -> list[dict[str, Any]]:
    """Stored rows, optionally only some models, runs whose id starts with run_prefix,
    and one `dvc exp` experiment."""
    table = validate_identifier(target.table, "db.table")
    models = list(models)
    if target.host is None and not (target.sqlite_path and target.sqlite_path.exists()):
        raise DbError(f"{target.where()}: not found; nothing has been pushed yet")

    def once(conn: Any, dialect: _Dialect) -> list[dict[str, Any]]:
        q = dialect.quote
        where: list[str] = []
        args: list[Any] = []
        if models:
            where.append(f"{q('model_name')} IN ({', '.join([dialect.mark] * len(models))})")
            args.extend(models)
        if run_prefix:
            where.append(f"SUBSTR({q('run')}, 1, {dialect.mark}) = {dialect.mark}")
            args.extend([len(run_prefix), run_prefix])
        if exp_name:
            where.append(f"{q('exp_name')} = {dialect.mark}")
            args.append(exp_name)
        sql = (
            f"SELECT {', '.join(q(c) for c in SHOWN_COLUMNS)} FROM {q(table)}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {q('run')}, {q('model_name')}, {q('epoch')}"
        )
        cur = conn.cursor()
        cur.execute(sql, args)
        return [dict(zip(SHOWN_COLUMNS, rec, strict=True)) for rec in cur.fetchall()]

    return _with_retries(target, once)

"""A MySQL or MariaDB server, reached over TCP, with TLS when the server offers it or a CA
is given (then verified, host name included)."""

import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mysql.connector
from mysql.connector import errorcode

from fruitveg.db.backend import KEY_COLUMNS, MAX_RUN, VALUE_COLUMNS, Backend, Failure, TableShape
from fruitveg.db.env import ENV_HOST, ENV_NAME, ENV_PASSWORD, ENV_SSL_CA, ENV_USER

# Worth another attempt: the server may be restarting, or the transaction lost a race.
TRANSIENT = frozenset(
    {
        errorcode.CR_CONN_HOST_ERROR,  # refused or timed out
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
)


@dataclass(frozen=True)
class MySQL(Backend):
    host: str
    port: int
    database: str
    user: str = field(repr=False)
    password: str = field(repr=False)
    ssl_ca: Path | None = None  # given: verify the server's certificate and host name
    ssl_cert: Path | None = None  # client certificate and key, together or neither
    ssl_key: Path | None = None

    name = "mysql"
    mark = "%s"
    types = {
        "run": f"VARCHAR({MAX_RUN}) NOT NULL",
        "model_name": "VARCHAR(64) NOT NULL",
        "epoch": "INT NOT NULL",
        "start_time": "DATETIME(6) NULL",
        "end_time": "DATETIME(6) NULL",
        "train_accuracy": "DOUBLE NULL",
        "val_accuracy": "DOUBLE NULL",
        "train_loss": "DOUBLE NULL",
        "val_loss": "DOUBLE NULL",
        "learning_rate": "DOUBLE NULL",
        # Parts of the run: as wide as it, so no part can be longer than its column.
        "git_rev": f"VARCHAR({MAX_RUN}) NULL",
        "exp_name": f"VARCHAR({MAX_RUN}) NULL",
        "pushed_at": "DATETIME(6) NOT NULL",
    }
    table_options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    driver_errors = (mysql.connector.Error,)

    def where(self) -> str:
        return f"MySQL server {self.host}:{self.port}"

    def describe(self, table: str) -> dict[str, Any]:
        return {
            "backend": self.name,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "table": table,
            "tls_verified": self.ssl_ca is not None,
        }

    def quote(self, identifier: str) -> str:
        return f"`{identifier}`"

    def upsert(self, table: str) -> str:
        # VALUES(col) rather than MySQL 8's row alias: MariaDB knows only the former.
        sets = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in VALUE_COLUMNS)
        return f"{self.insert(table)} ON DUPLICATE KEY UPDATE {sets}"

    def table_shape(self, cur: Any, table: str) -> TableShape | None:
        # SHOW names exactly this table (information_schema compares names without case)
        # and needs no privilege beyond one on the table.
        try:
            cur.execute(f"SHOW COLUMNS FROM {self.quote(table)}")
        except mysql.connector.Error as exc:
            if exc.errno == errorcode.ER_NO_SUCH_TABLE:
                return None
            raise
        columns = {_text(row[0]).lower(): _text(row[1]) for row in cur.fetchall()}
        cur.execute(f"SHOW INDEX FROM {self.quote(table)}")
        fields = [d[0].lower() for d in cur.description]
        indexes: dict[str, set[str]] = {}
        partial: set[str] = set()  # on a prefix of a column, or an expression
        for row in cur.fetchall():
            index = dict(zip(fields, row, strict=True))
            if int(index["non_unique"]):
                continue
            name, column = _text(index["key_name"]), index["column_name"]
            if column is None or index.get("sub_part") is not None:
                partial.add(name)
            else:
                indexes.setdefault(name, set()).add(_text(column).lower())
        keys = [frozenset(cols) for name, cols in indexes.items() if name not in partial]
        return TableShape(columns, keys)

    def add_key(self, table: str) -> str:
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        return f"ALTER TABLE {self.quote(table)} ADD UNIQUE KEY `run_model_epoch` ({key})"

    def widen(self, table: str, columns: list[str]) -> str:
        changes = ", ".join(f"MODIFY {self.quote(c)} {self.types[c]}" for c in columns)
        return f"ALTER TABLE {self.quote(table)} {changes}"

    def connect(self, timeout_s: float) -> Any:
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password,
            "connection_timeout": timeout_s,  # also bounds every read and write
            "autocommit": False,
            "charset": "utf8mb4",
            # The connector's default collation (utf8mb4_0900_ai_ci) does not exist on MariaDB.
            "collation": "utf8mb4_general_ci",
            # The pure-Python protocol does TLS through Python's ssl module and the system's
            # OpenSSL; the C extension links its own client library, whose TLS stack varies
            # by release (26.x fails to load beside Debian 12's OpenSSL). Pushes are small.
            "use_pure": True,
        }
        if self.ssl_ca is not None:
            options.update(ssl_ca=str(self.ssl_ca), ssl_verify_cert=True, ssl_verify_identity=True)
        if self.ssl_cert is not None and self.ssl_key is not None:
            options.update(ssl_cert=str(self.ssl_cert), ssl_key=str(self.ssl_key))
        return mysql.connector.connect(**options)

    def begin(self, conn: Any) -> None:
        conn.start_transaction()

    def explain(self, exc: BaseException, table: str) -> Failure:
        if not isinstance(exc, mysql.connector.Error):
            return super().explain(exc, table)
        where = self.where()
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
            hint = f"check {ENV_SSL_CA}" if self.ssl_ca else "check the server's TLS settings"
            return Failure(False, f"{where}: TLS failure: {reason}; {hint}")
        if errno == errorcode.CR_UNKNOWN_HOST or isinstance(cause, socket.gaierror):
            return Failure(False, f"{where}: unknown host (check {ENV_HOST} or db.host)")
        if errno == errorcode.ER_ACCESS_DENIED_ERROR:
            return Failure(
                False,
                f"{where}: access denied: wrong user or password "
                f"(check {ENV_USER} and {ENV_PASSWORD})",
            )
        if errno == errorcode.ER_DBACCESS_DENIED_ERROR:
            return Failure(
                False,
                f"{where}: access to database '{self.database}' denied: it does not exist "
                f"or the user has no rights on it (check {ENV_NAME})",
            )
        if errno == errorcode.ER_TABLEACCESS_DENIED_ERROR:
            return Failure(
                False,
                f"{where}: the user lacks a privilege on table '{table}' (it needs SELECT, "
                "INSERT and UPDATE, and CREATE while the table does not exist)",
            )
        if errno == errorcode.ER_NO_SUCH_TABLE:
            return Failure(
                False, f"{where}: table '{table}' not found; nothing has been pushed yet"
            )
        if errno == errorcode.ER_BAD_DB_ERROR:
            return Failure(False, f"{where}: database '{self.database}' does not exist")
        if errno == errorcode.CR_CONN_HOST_ERROR:
            reason = (
                "connection refused"
                if isinstance(cause, ConnectionRefusedError)
                else "connection timed out"
                if isinstance(cause, TimeoutError)
                else "cannot connect"
            )
            return Failure(True, f"{where}: {reason} (is the server up? check {ENV_HOST} and port)")
        if errno in TRANSIENT:
            return Failure(
                True, f"{where}: connection lost or transaction aborted (MySQL error {errno})"
            )
        return Failure(False, f"{where}: MySQL error {errno}: {self._scrub(text)}")

    def _scrub(self, text: str) -> str:
        """Server text may quote what was sent; the password never goes out in a message."""
        return text.replace(self.password, "***") if self.password else text


def _text(value: Any) -> str:
    """A SHOW result's text (the pure-Python protocol returns some columns as bytes)."""
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)

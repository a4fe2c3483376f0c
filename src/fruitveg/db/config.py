"""Where push_db writes: params.yaml's `db:` block, then the environment and secrets file.

The stage entry points read the `db:` block once, with read_params, into a frozen
DbParams; resolve() then lays the FRUITVEG_DB_* settings (fruitveg.db.env) over it and
picks the backend: without a host, the embedded SQLite file; with one, MySQL/MariaDB.
Host, port, database and table may come from either place; user, password and TLS files
only from the environment or the secrets file. The environment wins over the file, and
both win over params.yaml.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.params import ParamError
from fruitveg.db.backend import Backend
from fruitveg.db.env import (
    DEFAULT_ENV_FILE,
    ENV_HOST,
    ENV_NAME,
    ENV_PASSWORD,
    ENV_PORT,
    ENV_SSL_CA,
    ENV_SSL_CERT,
    ENV_SSL_KEY,
    ENV_TABLE,
    ENV_USER,
    PREFIX,
    env_settings,
    resolve_path,
)
from fruitveg.db.mysql import MySQL
from fruitveg.db.sqlite import SQLite

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DATABASE = re.compile(r"[A-Za-z0-9_$-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]+")
SECRET_KEYS = ("user", "password", "ssl_key")  # refused in params.yaml
# Bounds that keep every wait a number time.sleep and sockets accept (no OverflowError):
# db.timeout_s, db.retry_backoff_s and each retry's doubled wait stay below MAX_WAIT_S.
MAX_WAIT_S = 3600.0
MAX_RETRIES = 100


@dataclass(frozen=True)
class DbParams:
    """params.yaml's `db:` block, checked. It holds no secrets: params.yaml may not."""

    table: str
    sqlite_path: str | None = None  # as written; needed when no host is set
    host: str = ""  # "" = none (FRUITVEG_DB_HOST may still give one)
    port: int = 3306
    database: str = ""
    timeout_s: float = 30.0  # connect, and each reply (a lock wait included)
    retries: int = 4  # extra attempts after a transient error
    retry_backoff_s: float = 0.5  # first wait; doubles each retry


@dataclass(frozen=True)
class Target:
    """A resolved target: the backend (holding any secrets, out of repr), the table and
    the retry policy."""

    backend: Backend
    table: str
    timeout_s: float = 30.0
    retries: int = 4
    retry_backoff_s: float = 0.5

    def describe(self) -> dict[str, Any]:
        """The target without secrets, for the receipt and for messages."""
        return self.backend.describe(self.table)

    def where(self) -> str:
        return self.backend.where()


def validate_identifier(name: Any, setting: str) -> str:
    """A table or column name: letters, digits and _ (not first), at most 64 characters."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ParamError(
            f"{setting}: {name!r} is not a valid table name "
            "(letters, digits and _, not starting with a digit, at most 64 characters)"
        )
    return name


def _text(value: Any, setting: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ParamError(f"{setting}: expected {what}, got {value!r}")
    return value


def _port(value: int, setting: str) -> int:
    if value > 65535:
        raise ParamError(f"{setting}: port must be at most 65535, got {value}")
    return value


def _retries(params: dict[str, Any]) -> int:
    retries = P.whole(params, "db.retries", 0)
    if retries > MAX_RETRIES:
        raise ParamError(f"params.yaml: 'db.retries' must be at most {MAX_RETRIES}, got {retries}")
    return retries


def read_params(params: dict[str, Any]) -> DbParams:
    """Check params.yaml's `db:` block: the only code that reads it. A setting that is
    absent or null takes DbParams' default."""
    block = P.get(params, "db")
    if not isinstance(block, dict):
        raise ParamError("params.yaml: 'db' must be a mapping of settings")
    for secret in SECRET_KEYS:
        if secret in block:  # never echo the value
            raise ParamError(
                f"params.yaml: remove db.{secret}: credentials belong in the environment or "
                f"{DEFAULT_ENV_FILE} (git-ignored), as {PREFIX}{secret.upper()}"
            )
    given = {key for key, value in block.items() if value is not None}
    default = DbParams(table="")
    sqlite_path = block.get("sqlite_path")
    if sqlite_path is not None and (
        not isinstance(sqlite_path, str) or not sqlite_path.strip() or "\0" in sqlite_path
    ):
        raise ParamError("params.yaml: db.sqlite_path must be a non-empty path")
    host = block.get("host") or ""
    if host:
        _text(host, "params.yaml: db.host", _HOST, "a host name")
    database = block.get("database") or ""
    if database:
        _text(database, "params.yaml: db.database", _DATABASE, "a database name")
    port = default.port
    if "port" in given:
        port = _port(P.whole(params, "db.port"), "params.yaml: db.port")
    return DbParams(
        table=validate_identifier(P.get(params, "db.table"), "params.yaml: db.table"),
        sqlite_path=sqlite_path,
        host=host,
        port=port,
        database=database,
        timeout_s=(
            P.finite(params, "db.timeout_s", 0.1, MAX_WAIT_S, low_ok=True)
            if "timeout_s" in given
            else default.timeout_s
        ),
        retries=_retries(params) if "retries" in given else default.retries,
        retry_backoff_s=(
            P.finite(params, "db.retry_backoff_s", 0.0, MAX_WAIT_S, low_ok=True)
            if "retry_backoff_s" in given
            else default.retry_backoff_s
        ),
    )


def _env_port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ParamError(f"{ENV_PORT}: expected a whole number >= 1, got {value!r}") from None
    if port < 1:
        raise ParamError(f"{ENV_PORT}: expected a whole number >= 1, got {value!r}")
    return _port(port, ENV_PORT)


def _tls_file(settings: Mapping[str, str], key: str, environ: Mapping[str, str]) -> Path | None:
    value = settings.get(key)
    if not value:
        return None
    path = resolve_path(value, environ)
    if not path.is_file():
        raise ParamError(f"{key}: file not found: {value}")
    return path


def resolve(db: DbParams, environ: Mapping[str, str] | None = None) -> Target:
    """The target: db's settings under the secrets file's and the environment's."""
    environ = os.environ if environ is None else environ
    settings, env_file = env_settings(environ)
    table = db.table
    if ENV_TABLE in settings:
        table = validate_identifier(settings[ENV_TABLE], ENV_TABLE)
    policy = {
        "timeout_s": db.timeout_s,
        "retries": db.retries,
        "retry_backoff_s": db.retry_backoff_s,
    }

    host = settings.get(ENV_HOST) or db.host
    if not host:
        if db.sqlite_path is None:
            raise ParamError(
                "params.yaml: db.sqlite_path is missing or null: give the SQLite file's path "
                "(or a db.host)"
            )
        backend: Backend = SQLite(resolve_path(db.sqlite_path, environ), db.sqlite_path)
        return Target(backend, table, **policy)

    if ENV_HOST in settings:
        _text(host, ENV_HOST, _HOST, "a host name")
    port = _env_port(settings[ENV_PORT]) if ENV_PORT in settings else db.port
    database = settings.get(ENV_NAME, db.database)
    if database == "":
        raise ParamError(f"with a database host, set {ENV_NAME} or params.yaml db.database")
    if ENV_NAME in settings:
        _text(database, ENV_NAME, _DATABASE, "a database name")
    for key in (ENV_USER, ENV_PASSWORD):
        if key not in settings:
            raise ParamError(
                f"{key} is not set: with a database host, give the user and password in the "
                f"environment or in {env_file} (never in params.yaml)"
            )
    ssl_cert = _tls_file(settings, ENV_SSL_CERT, environ)
    ssl_key = _tls_file(settings, ENV_SSL_KEY, environ)
    if (ssl_cert is None) != (ssl_key is None):
        raise ParamError(f"{ENV_SSL_CERT} and {ENV_SSL_KEY} must be given together")
    backend = MySQL(
        host=host,
        port=port,
        database=database,
        user=settings[ENV_USER],
        password=settings[ENV_PASSWORD],
        ssl_ca=_tls_file(settings, ENV_SSL_CA, environ),
        ssl_cert=ssl_cert,
        ssl_key=ssl_key,
    )
    return Target(backend, table, **policy)

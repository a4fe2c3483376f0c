"""Where push_db writes: the `db:` settings, the environment and a git-ignored secrets file.

Host, port, database and table may come from params.yaml or the environment; user,
password and TLS files only from the environment or the secrets file (`db.env` by
default, KEY=VALUE lines), never from params.yaml. The environment wins over the file,
and both win over params.yaml. Without a host the target is the embedded SQLite file.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fruitveg.core.params import ParamError, get

PREFIX = "FRUITVEG_DB_"
ENV_HOST = PREFIX + "HOST"
ENV_PORT = PREFIX + "PORT"
ENV_NAME = PREFIX + "NAME"
ENV_TABLE = PREFIX + "TABLE"
ENV_USER = PREFIX + "USER"
ENV_PASSWORD = PREFIX + "PASSWORD"
ENV_SSL_CA = PREFIX + "SSL_CA"
ENV_SSL_CERT = PREFIX + "SSL_CERT"
ENV_SSL_KEY = PREFIX + "SSL_KEY"
ENV_FILE = PREFIX + "ENV_FILE"  # path of the secrets file; default db.env
FILE_KEYS = (
    ENV_HOST,
    ENV_PORT,
    ENV_NAME,
    ENV_TABLE,
    ENV_USER,
    ENV_PASSWORD,
    ENV_SSL_CA,
    ENV_SSL_CERT,
    ENV_SSL_KEY,
)
DEFAULT_ENV_FILE = Path("db.env")
# DVC sets DVC_ROOT to the parent repository even when a queued experiment runs in a
# temporary copy, so relative paths (SQLite file, db.env) resolve there: queued runs then
# share the workspace's database and secrets file instead of a throwaway copy.
DVC_ROOT = "DVC_ROOT"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DATABASE = re.compile(r"[A-Za-z0-9_$-]{1,64}")


@dataclass(frozen=True)
class Target:
    """A resolved database target. Secrets are kept out of repr() and describe()."""

    table: str
    sqlite_path: Path | None = None  # set for the embedded default
    host: str | None = None  # set for MySQL/MariaDB
    port: int = 3306
    database: str = ""
    ssl_ca: Path | None = None
    ssl_cert: Path | None = None
    ssl_key: Path | None = None
    timeout_s: float = 30.0  # connect, and each reply (a lock wait included)
    retries: int = 4
    retry_backoff_s: float = 0.5
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    shown_path: str = ""  # the SQLite path as configured, for messages and the receipt

    @property
    def backend(self) -> str:
        return "mysql" if self.host else "sqlite"

    def describe(self) -> dict[str, Any]:
        """The target without secrets, for the receipt and for messages."""
        if self.host is None:
            return {"backend": "sqlite", "path": self.shown_path, "table": self.table}
        return {
            "backend": "mysql",
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "table": self.table,
            "tls_verified": self.ssl_ca is not None,
        }

    def where(self) -> str:
        if self.host is None:
            return f"SQLite file {self.shown_path}"
        return f"MySQL server {self.host}:{self.port}"


def validate_identifier(name: Any, setting: str) -> str:
    """A table or column name: letters, digits and _ (not first), at most 64 characters."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ParamError(
            f"{setting}: {name!r} is not a valid table name "
            "(letters, digits and _, not starting with a digit, at most 64 characters)"
        )
    return name


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored; values may be quoted)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in FILE_KEYS:
            # Never echo the line: it may hold a password.
            raise ParamError(
                f"{path}, line {number}: expected KEY=VALUE with KEY one of {', '.join(FILE_KEYS)}"
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _root(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(DVC_ROOT) or ".")


def _resolve(path: str, environ: Mapping[str, str]) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else _root(environ) / p


def _optional(params: dict[str, Any], key: str, default: Any) -> Any:
    try:
        return get(params, key)
    except ParamError:
        return default


def _number(value: Any, setting: str, kind: type[int] | type[float], minimum: float) -> Any:
    try:
        number = kind(value)
        exact = kind is float or float(value) == number  # no silent 2.5 -> 2
    except (TypeError, ValueError):
        number, exact = None, False
    if isinstance(value, bool) or number is None or not exact or number < minimum:
        what = "a whole number" if kind is int else "a number"
        raise ParamError(f"{setting}: expected {what} >= {minimum}, got {value!r}")
    return number


def _tls_file(settings: Mapping[str, str], key: str, environ: Mapping[str, str]) -> Path | None:
    value = settings.get(key)
    if not value:
        return None
    path = _resolve(value, environ)
    if not path.is_file():
        raise ParamError(f"{key}: file not found: {value}")
    return path


def load_target(params: dict[str, Any], environ: Mapping[str, str] | None = None) -> Target:
    """Resolve the target from params.yaml's `db:` block, the secrets file and the environment."""
    environ = os.environ if environ is None else environ
    env_file_setting = environ.get(ENV_FILE)
    env_file = _resolve(env_file_setting or str(DEFAULT_ENV_FILE), environ)
    settings: dict[str, str] = {}
    if env_file.is_file():
        settings.update(read_env_file(env_file))
    elif env_file_setting:
        raise ParamError(f"{ENV_FILE}: file not found: {env_file_setting}")
    settings.update({k: v for k, v in environ.items() if k in FILE_KEYS})
    settings = {k: v for k, v in settings.items() if v != ""}  # empty counts as unset

    db_block = get(params, "db")
    if not isinstance(db_block, dict):
        raise ParamError("params.yaml: 'db' must be a mapping of settings")
    for secret in ("user", "password", "ssl_key"):
        if secret in db_block:  # never echo the value
            raise ParamError(
                f"params.yaml: remove db.{secret}: credentials belong in the environment or "
                f"{DEFAULT_ENV_FILE} (git-ignored), as {PREFIX}{secret.upper()}"
            )
    table_setting = ENV_TABLE if ENV_TABLE in settings else "params.yaml: db.table"
    table = validate_identifier(settings.get(ENV_TABLE, get(params, "db.table")), table_setting)
    common = {
        "table": table,
        "timeout_s": _number(
            _optional(params, "db.timeout_s", 30),
            "params.yaml: db.timeout_s",
            float,
            0.1,
        ),
        "retries": _number(_optional(params, "db.retries", 4), "params.yaml: db.retries", int, 0),
        "retry_backoff_s": _number(
            _optional(params, "db.retry_backoff_s", 0.5),
            "params.yaml: db.retry_backoff_s",
            float,
            0.0,
        ),
    }

    host = settings.get(ENV_HOST) or _optional(params, "db.host", "") or None
    if host is None:
        shown = str(get(params, "db.sqlite_path"))
        if not shown.strip():
            raise ParamError("params.yaml: db.sqlite_path must not be empty")
        return Target(sqlite_path=_resolve(shown, environ), shown_path=shown, **common)

    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9._:\[\]-]+", host):
        raise ParamError(f"{ENV_HOST} / params.yaml db.host: not a host name: {host!r}")
    port_setting = ENV_PORT if ENV_PORT in settings else "params.yaml: db.port"
    port = _number(settings.get(ENV_PORT, _optional(params, "db.port", 3306)), port_setting, int, 1)
    if port > 65535:
        raise ParamError(f"{port_setting}: port must be at most 65535, got {port}")
    db_setting = ENV_NAME if ENV_NAME in settings else "params.yaml: db.database"
    database = settings.get(ENV_NAME, _optional(params, "db.database", ""))
    if database == "":
        raise ParamError(f"with a database host, set {ENV_NAME} or params.yaml db.database")
    if not isinstance(database, str) or not _DATABASE.fullmatch(database):
        raise ParamError(f"{db_setting}: expected a database name, got {database!r}")
    for key in (ENV_USER, ENV_PASSWORD):
        if key not in settings:
            raise ParamError(
                f"{key} is not set: with a database host, give the user and password in the "
                f"environment or in {env_file_setting or DEFAULT_ENV_FILE} (never in params.yaml)"
            )
    ssl_cert = _tls_file(settings, ENV_SSL_CERT, environ)
    ssl_key = _tls_file(settings, ENV_SSL_KEY, environ)
    if (ssl_cert is None) != (ssl_key is None):
        raise ParamError(f"{ENV_SSL_CERT} and {ENV_SSL_KEY} must be given together")
    return Target(
        host=host,
        port=port,
        database=database,
        user=settings[ENV_USER],
        password=settings[ENV_PASSWORD],
        ssl_ca=_tls_file(settings, ENV_SSL_CA, environ),
        ssl_cert=ssl_cert,
        ssl_key=ssl_key,
        **common,
    )

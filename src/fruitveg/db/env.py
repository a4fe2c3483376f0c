"""The FRUITVEG_DB_* settings of the environment and of the git-ignored secrets file.

User, password and TLS files come only from here, never from params.yaml. The file
(`db.env` by default, KEY=VALUE lines) is read first and the environment wins over it.
"""

from collections.abc import Mapping
from pathlib import Path

from fruitveg.core.params import ParamError
from fruitveg.core.secrets import DB_ENV_FILE, DB_ENV_FILE_ENV

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
ENV_FILE = DB_ENV_FILE_ENV  # path of the secrets file; default db.env
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
DEFAULT_ENV_FILE = Path(DB_ENV_FILE)
# DVC sets DVC_ROOT to the parent repository even when a queued experiment runs in a
# temporary copy, so relative paths (SQLite file, db.env) resolve there: queued runs then
# share the workspace's database and secrets file instead of a throwaway copy.
DVC_ROOT = "DVC_ROOT"


def resolve_path(path: str, environ: Mapping[str, str]) -> Path:
    """A configured path; a relative one is taken from DVC_ROOT (or the working directory)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(environ.get(DVC_ROOT) or ".") / p


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored; values may be quoted)."""
    values: dict[str, str] = {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParamError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # name the line, never show it: it may hold a password
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParamError(f"{path}, line {line}: not UTF-8 text; save the file as UTF-8") from None
    for number, raw in enumerate(text.splitlines(), start=1):
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


def env_settings(environ: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The FRUITVEG_DB_* settings (file, then environment; empty counts as unset), and the
    secrets file's name as messages should give it."""
    env_file_setting = environ.get(ENV_FILE)
    env_file = resolve_path(env_file_setting or str(DEFAULT_ENV_FILE), environ)
    settings: dict[str, str] = {}
    if env_file.is_file():
        settings.update(read_env_file(env_file))
    elif env_file_setting:
        raise ParamError(f"{ENV_FILE}: file not found: {env_file_setting}")
    settings.update({k: v for k, v in environ.items() if k in FILE_KEYS})
    shown = env_file_setting or str(DEFAULT_ENV_FILE)
    return {k: v for k, v in settings.items() if v != ""}, shown

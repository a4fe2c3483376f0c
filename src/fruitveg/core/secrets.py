"""Every secret the pipeline may hold, and scrubbing them, in every form, out of text.

The one list of where credentials come from: environment variables and the files the
Kaggle client and the database settings read. Nothing here is read from params.yaml,
which never holds a secret. Stage entry points (core.errors.run_stage) scrub whatever
they print; the steps that use a credential still never put it in a message themselves.
"""

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus

# Variables whose whole value is a secret.
SECRET_ENV = ("KAGGLE_API_TOKEN", "KAGGLE_KEY", "FRUITVEG_DB_PASSWORD")
# Not secret alone, but paired with a key in HTTP Basic authentication.
USER_ENV = ("KAGGLE_USERNAME",)
DB_ENV_FILE_ENV = "FRUITVEG_DB_ENV_FILE"  # where the db secrets file is; default db.env
DB_ENV_FILE = "db.env"
MASK = "***"
MIN_LENGTH = 4  # shorter values would mask ordinary words; no real credential is that short


def _kaggle_dirs(environ: Mapping[str, str]) -> list[Path]:
    """Every folder the `kaggle` client may take its credentials from."""
    home = Path(environ.get("HOME") or Path.home())
    xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    dirs = [home / ".kaggle", xdg / "kaggle"]
    if environ.get("KAGGLE_CONFIG_DIR"):
        dirs.insert(0, Path(environ["KAGGLE_CONFIG_DIR"]))
    return dirs


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(_read(path) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _db_env_password(path: Path) -> list[str]:
    """FRUITVEG_DB_PASSWORD's value in a KEY=VALUE file, raw and unquoted."""
    found = []
    for line in _read(path).splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() in SECRET_ENV:
            found += [value, value.strip(), value.strip().strip("'\"")]
    return found


def known(environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(secret values, user names) found in the environment and the credential files."""
    environ = os.environ if environ is None else environ
    values = [environ.get(name, "") for name in SECRET_ENV]
    users = [environ.get(name, "") for name in USER_ENV]
    for folder in _kaggle_dirs(environ):
        config = _json(folder / "kaggle.json")
        values.append(str(config.get("key", "")))
        users.append(str(config.get("username", "")))
        for name in ("access_token", "access_token.txt"):
            values.append(_read(folder / name))
        oauth = _json(folder / "credentials.json")
        values += [str(oauth.get(k, "")) for k in ("refresh_token", "access_token")]
    # As fruitveg.db reads it: a relative path is taken from DVC_ROOT, else the working folder.
    env_file = Path(environ.get(DB_ENV_FILE_ENV) or DB_ENV_FILE).expanduser()
    root = Path(environ.get("DVC_ROOT") or ".")
    values += _db_env_password(env_file if env_file.is_absolute() else root / env_file)
    # A value as read (a CRLF file leaves "\r") and as the stripped credential it stands for.
    values += [v.strip() for v in values]
    return [v for v in dict.fromkeys(values) if len(v) >= MIN_LENGTH], [u for u in users if u]


def _base64_runs(value: bytes) -> list[str]:
    """What base64 text holding `value` at any of the 3 byte alignments always contains."""
    runs = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + value).decode()
        whole = (pad + len(value)) // 3 * 4  # groups made only of this text's bytes
        run = encoded[4 if pad else 0 : whole]
        runs += [run, run.replace("+", "-").replace("/", "_")]  # and the URL-safe alphabet
    return [r for r in runs if len(r) >= 8]


def forms(values: Iterable[str], users: Iterable[str] = ()) -> list[str]:
    """Every way a secret may be written: plain, escaped, URL-encoded, base64, Basic auth."""
    values, users = list(values), list(users)
    out: list[str] = []
    for value in values:
        out += [value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe="")]
        out += [quote_plus(value), repr(value.encode("utf-8", "replace"))[2:-1]]
        pairs = [f"{user}:{value}" for user in users]
        out += [base64.b64encode(p.encode()).decode() for p in pairs]
        out += _base64_runs(value.encode("utf-8", "replace"))
    return sorted({f for f in out if len(f) >= MIN_LENGTH}, key=len, reverse=True)


class Scrubber:
    """Replaces every form of the known secrets by MASK; built once, applied many times."""

    def __init__(self, values: Iterable[str], users: Iterable[str] = ()) -> None:
        found = forms(values, users)
        self._pattern = re.compile("|".join(map(re.escape, found))) if found else None

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)


def scrubber(environ: Mapping[str, str] | None = None) -> Scrubber:
    """A Scrubber for every secret the environment and the credential files hold now."""
    return Scrubber(*known(environ))

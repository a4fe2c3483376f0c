"""The `kaggle` data source: download the dataset archive with the official `kaggle` client.

The archive is downloaded and unpacked in a temporary folder beside `dest` and moved into
place only when whole, so a failed or interrupted download leaves nothing behind. Whatever
the archive's top folder, `dest` ends up holding exactly train/, validation/ and test/.

Credentials come only from the environment or the Kaggle config folder, exactly where the
`kaggle` client itself looks: KAGGLE_API_TOKEN (or ~/.kaggle/access_token), KAGGLE_USERNAME
with KAGGLE_KEY, or kaggle.json in KAGGLE_CONFIG_DIR (default ~/.kaggle), stripped of
surrounding whitespace. They never appear in a message or a log line (fruitveg.core.secrets
masks them, in every encoding, in anything that escapes).

The archive is checked from its directory before anything is extracted (no encrypted
entry, no over-long name, no file where another entry needs a folder, no more than
`max_unpacked_bytes` in all); extraction itself never writes more than the directory
declares, since zipfile stops each entry at its declared size.

The client's own settings apply as they would to the `kaggle` command, read when the
download starts: KAGGLE_API_ENVIRONMENT=LOCALHOST selects its local API endpoint
(http://localhost), and the usual HTTP(S)_PROXY / NO_PROXY variables are honoured.
"""

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from fruitveg.core import secrets
from fruitveg.core.atomic import atomic_dir
from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import SPLITS

log = logging.getLogger(__name__)

TOKEN_URL = "https://www.kaggle.com/settings/api"
_DATASET_RE = re.compile(r"^[\w.-]+/[\w.-]+(/\d+)?$")
CREDENTIAL_ENV = ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY")
NAME_MAX = 255  # bytes in one file name, on Linux and macOS file systems
LIMIT_SETTING = "data.max_unpacked_gb"


class KaggleSourceError(PipelineError):
    """The Kaggle download failed; the message says why and what to do."""


def fetch_kaggle(dataset: str, dest: Path, *, max_unpacked_bytes: int, retries: int = 3) -> None:
    """Download `dataset` ("owner/slug") from Kaggle into `dest` as train/ validation/ test/.

    An archive that would unpack to more than `max_unpacked_bytes` is refused. `retries` is
    how often a dropped download is resumed (with backoff) before giving up. Raises
    KaggleSourceError with one actionable message on any failure; `dest` is then left as
    it was.
    """
    dest = Path(dest)
    if not isinstance(dataset, str) or not _DATASET_RE.match(dataset):
        raise KaggleSourceError(
            f"Kaggle dataset must look like 'owner/dataset-slug' (optionally '/version'), "
            f"got {dataset!r}"
        )
    with _stripped_credentials():
        _fetch(dataset, dest, max_unpacked_bytes, retries)


def _fetch(dataset: str, dest: Path, limit: int, retries: int) -> None:
    config_dir = _config_dir()
    source = _credential_source(config_dir)
    if source is None:
        raise KaggleSourceError(_no_credentials_message(config_dir))
    _warn_if_readable(config_dir / "kaggle.json")

    # The client reads KAGGLE_API_ENVIRONMENT once, at import; honour it per call instead.
    local = os.environ.get("KAGGLE_API_ENVIRONMENT") == "LOCALHOST"
    where = "http://localhost" if local else "https://api.kaggle.com"
    scrub = secrets.scrubber()
    kaggle_api_class, download_request = _import_kaggle()

    log.info("downloading Kaggle dataset %s from %s into %s", dataset, where, dest)
    try:
        with atomic_dir(dest) as tmp:
            api = kaggle_api_class()
            _authenticate(api, config_dir, local, source)
            request = download_request()
            archive = _download(api, request, dataset, tmp / ".download", retries)
            unpacked = tmp / ".unpacked"
            _unpack(archive, unpacked, dataset, limit)
            root = _dataset_root(unpacked, dataset)
            for split in SPLITS:
                (root / split).rename(tmp / split)
            shutil.rmtree(tmp / ".download")
            shutil.rmtree(unpacked)
    except KaggleSourceError as err:
        message = str(err)
    except requests.exceptions.HTTPError as err:
        message = _http_message(err, dataset, source)
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
        message = (
            f"Cannot reach the Kaggle API at {where} ({_reason(err)}). Check the network "
            "connection (and HTTPS_PROXY if you need a proxy), or use data.source: synthetic "
            "to work offline."
        )
    else:
        return
    # Raised here, outside the handlers, so that the error carries no context: the client's
    # exception may quote a credential (a server that echoes the Authorization header).
    raise KaggleSourceError(scrub(message))


def _authenticate(api: Any, config_dir: Path, local: bool, source: str) -> None:
    """Let the client pick its credentials, as the `kaggle` command would."""
    # Per-instance settings: the class reads KAGGLE_CONFIG_DIR and VERBOSE once, at import.
    # Never pass --verbose: the client would print the Authorization header.
    api.config_dir = str(config_dir)
    api.config = str(config_dir / "kaggle.json")
    api.args = ["--local"] if local else []
    read_config_file = api.read_config_file  # kaggle.json: values stripped, as the env's
    api.read_config_file = lambda *args, **kwargs: {
        k: v.strip() if isinstance(v, str) else v
        for k, v in read_config_file(*args, **kwargs).items()
    }
    with _quiet_stdout():
        try:
            api.authenticate()  # a token is checked with the server here, a key is not
        except SystemExit:
            # It found no credentials it could use (it prints help and exits); since we saw
            # some, the server must have turned them down.
            raise KaggleSourceError(_rejected_message(source)) from None


def _download(api: Any, request: Any, dataset: str, folder: Path, retries: int) -> Path:
    """Ask for the dataset archive and stream it into `folder`; return its path."""
    owner, slug, version = api.split_dataset_string(dataset)
    request.owner_slug = owner
    request.dataset_slug = slug
    request.dataset_version_number = int(version) if version else None
    with api.build_kaggle_client() as client:
        # Kaggle answers with a redirect to the archive in cloud storage.
        response = client.datasets.dataset_api_client.download_dataset(request)
        archive = folder / f"{slug}.zip"
        try:
            api.download_file(
                response,
                str(archive),
                client.http_client(),
                quiet=not sys.stderr.isatty(),
                resume=False,
                max_retries=retries,
            )
        except (requests.exceptions.RequestException, ValueError) as err:
            # Includes a body cut short: Content-Length not reached after the retries.
            raise KaggleSourceError(
                f"The download of Kaggle dataset {dataset} was interrupted ({_reason(err)}) "
                f"after {retries} retries; nothing was kept. Run the stage again."
            ) from None
        except OSError as err:
            raise KaggleSourceError(
                f"Could not save the Kaggle download under {folder}: {err.strerror or err}"
            ) from None
    return archive


def _unpack(archive: Path, target: Path, dataset: str, limit: int) -> None:
    """Extract the archive into `target`, every entry checked before the first is written.

    zipfile never returns more than an entry's declared size (a member that holds more
    fails its CRC check), so the directory's total also bounds what extraction writes.
    """
    what = f"The archive downloaded for Kaggle dataset {dataset}"
    try:
        with zipfile.ZipFile(archive) as zf:
            _check_members(zf.infolist(), what, limit)
            zf.extractall(target)  # extractall drops absolute paths and '..' parts
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise KaggleSourceError(
            f"{what} is not a valid zip ({err}); nothing was kept. Run the stage again; if it "
            "persists, the download is being altered on the way (proxy?) or the dataset itself "
            "is broken."
        ) from None
    except OSError as err:  # the disk is full, a path too long for the file system...
        raise KaggleSourceError(
            f"{what} could not be unpacked under {target}: {err.strerror or err} "
            f"({err.filename}); nothing was kept."
        ) from None


def _check_members(infos: list[zipfile.ZipInfo], what: str, limit: int) -> None:
    """Refuse what extraction would stumble on, and archives that unpack to over `limit`.

    Paths are taken as extractall places them: '', '.' and '..' parts dropped.
    """
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    total = 0
    for info in infos:
        parts = tuple(p for p in info.filename.split("/") if p not in ("", ".", ".."))
        if not parts:
            continue
        if info.flag_bits & 0x1:
            raise KaggleSourceError(
                f"{what} has an encrypted entry {info.filename!r}; nothing was kept. The "
                "dataset's archive is not password-protected: check data.kaggle_dataset."
            )
        if any(len(os.fsencode(p)) > NAME_MAX for p in parts):
            raise KaggleSourceError(
                f"{what} has an entry whose name is longer than {NAME_MAX} bytes "
                f"({info.filename[:60]!r}...); nothing was kept."
            )
        total += info.file_size
        folders.update(parts[:i] for i in range(1, len(parts)))
        (folders if info.is_dir() else files).add(parts)
    if clashes := sorted(files & folders):
        raise KaggleSourceError(
            f"{what} holds {'/'.join(clashes[0])!r} both as a file and as a folder of other "
            "entries; nothing was kept."
        )
    if total > limit:
        raise KaggleSourceError(
            f"{what} would unpack to {total / 1e9:.3g} GB, more than {LIMIT_SETTING} "
            f"({limit / 1e9:.3g} GB) in params.yaml allows; nothing was extracted. Raise the "
            "limit if the dataset really is that large."
        )


def _dataset_root(unpacked: Path, dataset: str) -> Path:
    """The folder holding train/ validation/ test/: the top, or the one folder below it."""

    def has_splits(folder: Path) -> bool:
        return all((folder / split).is_dir() for split in SPLITS)

    if has_splits(unpacked):
        return unpacked
    below = [
        p
        for p in sorted(unpacked.iterdir())
        if p.is_dir() and not p.name.startswith((".", "__MACOSX"))
    ]
    candidates = [p for p in below if has_splits(p)]
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(p.name for p in sorted(unpacked.iterdir())) or "nothing"
    if len(candidates) > 1:
        problem = f"several folders hold them: {', '.join(p.name for p in candidates)}"
    else:
        problem = f"its top level holds: {found}"
    raise KaggleSourceError(
        f"The archive of Kaggle dataset {dataset} does not hold the split folders "
        f"{', '.join(SPLITS)} at its top or one folder below ({problem}); nothing was kept. "
        "Check that data.kaggle_dataset in params.yaml names the fruit and vegetable dataset."
    )


# -- credentials -------------------------------------------------------------------------


@contextlib.contextmanager
def _stripped_credentials() -> Iterator[None]:
    """The client reads credentials from the environment itself; give them stripped.

    A token copied from a CRLF file ends in "\r", which http.client refuses with an error
    that quotes the whole Authorization header.
    """
    given = {name: os.environ[name] for name in CREDENTIAL_ENV if name in os.environ}
    try:
        os.environ.update({name: value.strip() for name, value in given.items()})
        yield
    finally:
        os.environ.update(given)


def _config_dir() -> Path:
    """Where kaggle.json lives, as the `kaggle` client decides it (read at call time)."""
    configured = os.environ.get("KAGGLE_CONFIG_DIR")
    if configured:
        return Path(configured)
    home = Path.home() / ".kaggle"
    if home.exists() or not sys.platform.startswith("linux"):
        return home
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "kaggle"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _credential_source(config_dir: Path) -> str | None:
    """Name (never the value) of the first credentials the client will find, if any."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "the token in KAGGLE_API_TOKEN"
    for name in ("access_token", "access_token.txt"):
        path = Path.home() / ".kaggle" / name
        if path.is_file() and path.read_text(encoding="utf-8", errors="replace").strip():
            return f"the token in {path}"
    config = _read_json(config_dir / "kaggle.json")
    env_user, env_key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if (env_user or config.get("username")) and (env_key or config.get("key")):
        if env_user and env_key:
            return "KAGGLE_USERNAME/KAGGLE_KEY"
        return f"the username and key in {config_dir / 'kaggle.json'}"
    oauth = Path.home() / ".kaggle" / "credentials.json"
    if _read_json(oauth).get("refresh_token"):
        return f"the login saved in {oauth} (kaggle auth login)"
    return None


def _warn_if_readable(config: Path) -> None:
    if config.is_file() and config.stat().st_mode & 0o077:
        log.warning("%s is readable by other users; run: chmod 600 %s", config, config)


def _no_credentials_message(config_dir: Path) -> str:
    return (
        "No Kaggle credentials found. Create an API token at "
        f"{TOKEN_URL} and give it in one of these ways:\n"
        "  export KAGGLE_API_TOKEN=<token>\n"
        "  export KAGGLE_USERNAME=<user> KAGGLE_KEY=<key>   (legacy API key)\n"
        f'  save {{"username": "<user>", "key": "<key>"}} as {config_dir / "kaggle.json"} '
        "(chmod 600; KAGGLE_CONFIG_DIR moves that folder)\n"
        "Credentials are never read from params.yaml. To run offline instead, set "
        "data.source: synthetic (or local) in params.yaml."
    )


def _rejected_message(source: str) -> str:
    return (
        f"Kaggle rejected {source}: the token or key is wrong, expired or revoked. "
        f"Create a new API token at {TOKEN_URL} and give it as KAGGLE_API_TOKEN "
        "(or KAGGLE_USERNAME/KAGGLE_KEY, or kaggle.json)."
    )


def _http_message(err: requests.exceptions.HTTPError, dataset: str, source: str) -> str:
    status = err.response.status_code if err.response is not None else None
    if status == 401:
        return _rejected_message(source)
    if status == 403:
        return (
            f"Kaggle refused access to dataset {dataset} with {source} (HTTP 403). Check the "
            f"account may download it (accept its terms on the dataset page) and that the "
            f"token is valid; a new token can be made at {TOKEN_URL}."
        )
    if status == 404:
        return (
            f"Kaggle dataset {dataset} was not found (HTTP 404). Check data.kaggle_dataset in "
            "params.yaml (owner/dataset-slug, as in the dataset's URL)."
        )
    if status == 429:
        return "Kaggle is rate-limiting this account (HTTP 429). Wait a while and run again."
    return f"The Kaggle API answered HTTP {status} for dataset {dataset}: {err}. Try again later."


def _reason(err: BaseException) -> str:
    """A short human reason for a network failure, without URLs or internals."""
    text = repr(err)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("No address associated", "host name not found"),
        ("Network is unreachable", "network unreachable"),
        ("timed out", "timed out"),
        ("IncompleteRead", "connection closed before the end of the file"),
        ("does not match expected size", "file shorter than announced"),
        ("Connection broken", "connection broken"),
        ("RemoteDisconnected", "server closed the connection"),
        ("SSLError", "TLS error"),
    ):
        if needle in text:
            return reason
    return type(err).__name__


# -- the kaggle client ------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The client prints help and warnings to stdout; keep them out of the stage's output."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        if buf.getvalue().strip():
            log.debug("kaggle client said: %s", buf.getvalue().strip())


def _import_kaggle() -> tuple[type, type]:
    # Importing `kaggle` authenticates once as a side effect and prints help when there are
    # no credentials, hence the lazy, quiet import.
    try:
        with _quiet_stdout():
            from kaggle.api.kaggle_api_extended import KaggleApi
            from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest
    except ImportError as err:
        raise KaggleSourceError(
            f"The kaggle package is missing ({err}); install requirements.txt into the environment."
        ) from None
    return KaggleApi, ApiDownloadDatasetRequest

"""Fixtures for the `kaggle` source: a clean credential environment and a stand-in server.

The client finds the stand-in through its own settings only (kaggle_standin.use_standin), so the
code under test has no test hook and the official client runs its real path end to end.

No __init__.py here on purpose: a package named `kaggle` under tests/ would shadow the
real `kaggle` client.
"""

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kaggle_standin import (
    DATASET,
    KEY,
    TOKEN,
    USERNAME,
    StandInKaggle,
    StandInState,
    make_archive,
    use_standin,
)

from fruitveg.download import kaggle_source

_CLEARED = (
    "KAGGLE_API_TOKEN",
    "KAGGLE_USERNAME",
    "KAGGLE_KEY",
    "KAGGLE_CONFIG_DIR",
    "KAGGLE_API_ENVIRONMENT",
    "KAGGLE_PROXY",
    "VERBOSE",
    *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "ALL")),
    *(f"{name}_proxy" for name in ("http", "https", "all")),
)


def _clean_env(mp: pytest.MonkeyPatch, home: Path) -> None:
    for name in _CLEARED:
        mp.delenv(name, raising=False)
    home.mkdir(parents=True, exist_ok=True)
    mp.setenv("HOME", str(home))  # ~/.kaggle/access_token and credentials.json live here
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    mp.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="session", autouse=True)
def _kaggle_imported(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import `kaggle` once with no credentials around: its import authenticates against
    the production API, which must not happen with the tests' tokens."""
    with pytest.MonkeyPatch.context() as mp:
        _clean_env(mp, tmp_path_factory.mktemp("kaggle-import-home"))
        kaggle_source._import_kaggle()


@dataclass
class KaggleEnv:
    home: Path
    config_dir: Path
    monkeypatch: pytest.MonkeyPatch

    def use_token(self, token: str = TOKEN) -> None:
        self.monkeypatch.setenv("KAGGLE_API_TOKEN", token)

    def use_key(self, key: str = KEY) -> None:
        self.monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
        self.monkeypatch.setenv("KAGGLE_KEY", key)


@pytest.fixture(autouse=True)
def kaggle_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> KaggleEnv:
    """No credentials, no proxies; HOME and KAGGLE_CONFIG_DIR inside tmp_path."""
    _clean_env(monkeypatch, tmp_path / "home")
    config_dir = tmp_path / "kaggle-config"
    config_dir.mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config_dir))
    return KaggleEnv(tmp_path / "home", config_dir, monkeypatch)


@pytest.fixture(scope="session")
def flat_archive() -> bytes:
    return make_archive()


@pytest.fixture
def standin(kaggle_env: KaggleEnv, flat_archive: bytes) -> Iterator[StandInKaggle]:
    """A running stand-in serving DATASET, with the client pointed at it."""
    state = StandInState(username=USERNAME, key=KEY, token=TOKEN, archives={DATASET: flat_archive})
    with StandInKaggle(state) as server:
        use_standin(kaggle_env.monkeypatch, server.url)
        yield server


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

"""Fixtures for the database tests: real MariaDB servers (plain and TLS-only), one each per
session, and temporary repositories holding params.yaml and epoch histories."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from db_helpers import MODELS, Repo, history_csv
from mariadb_server import MariaDB, TlsServer, binaries, issue_cert, make_ca


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, args: list[str]) -> MariaDB:
    """Start a server, or fail (never skip): CI installs MariaDB, so its absence is a fault."""
    try:
        binaries()
        return MariaDB(tmp_path_factory.mktemp(name), extra_args=args).start()
    except RuntimeError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A plain server (no TLS configured) with user `pusher` and database `fruitveg`."""
    server = _server(tmp_path_factory, "mariadb", ["--skip-ssl"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A server that accepts TLS connections only, with a certificate from a test CA."""
    certs = tmp_path_factory.mktemp("certs")
    ca, ca_key, ca_cert = make_ca(certs, "test-ca")
    wrong_ca, _, _ = make_ca(certs, "other-ca")
    server_cert, server_key = issue_cert(certs, "server", ca_key, ca_cert, server=True)
    client_cert, client_key = issue_cert(certs, "client", ca_key, ca_cert, server=False)
    server = _server(
        tmp_path_factory,
        "mariadb-tls",
        [
            f"--ssl-ca={ca}",
            f"--ssl-cert={server_cert}",
            f"--ssl-key={server_key}",
            "--require-secure-transport=ON",
        ],
    )
    yield TlsServer(server, ca, wrong_ca, client_cert, client_key)
    server.stop()


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    """A temporary stage directory: params.yaml with a `db:` block and histories."""

    def make(models: tuple[str, ...] = MODELS, table: str = "training_logs", **db) -> Repo:
        repo = Repo(tmp_path, models)
        history = tmp_path / "plots" / "history"
        history.mkdir(parents=True, exist_ok=True)
        for m in models:
            (history / f"{m}.csv").write_text(history_csv(m), encoding="utf-8")
        settings = {
            "table": table,
            "sqlite_path": "data/push_db/training_logs.sqlite",
            "retries": 2,
            "retry_backoff_s": 0.05,
            "timeout_s": 5,
        } | db
        repo.write_params(settings)
        return repo

    return make

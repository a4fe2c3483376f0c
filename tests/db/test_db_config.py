"""Settings, secrets, identifiers, run identity, history rows and SQL text (no server)."""

import math
import subprocess
from pathlib import Path

import pytest

from fruitveg.core import history
from fruitveg.core.params import ParamError
from fruitveg.db.backend import COLUMNS, KEY_COLUMNS
from fruitveg.db.config import Target, read_params, resolve, validate_identifier
from fruitveg.db.mysql import MySQL
from fruitveg.db.rows import epoch_rows, run_identity
from fruitveg.db.sqlite import SQLite

SECRET = "hunter2-Zq9"
PARAMS = {"db": {"table": "training_logs", "sqlite_path": "data/push_db/logs.sqlite"}}


def with_db(**db: object) -> dict:
    return {"db": PARAMS["db"] | db}


def resolved(params: dict, environ: dict[str, str]) -> Target:
    return resolve(read_params(params), environ)


def test_without_host_the_target_is_the_sqlite_file(tmp_path: Path) -> None:
    target = resolved(PARAMS, {"DVC_ROOT": str(tmp_path)})
    assert isinstance(target.backend, SQLite)
    assert target.backend.path == tmp_path / "data/push_db/logs.sqlite"
    assert target.describe() == {
        "backend": "sqlite",
        "path": "data/push_db/logs.sqlite",
        "table": "training_logs",
    }
    assert (target.timeout_s, target.retries, target.retry_backoff_s) == (30.0, 4, 0.5)


def test_params_are_read_once_into_a_frozen_object() -> None:
    db = read_params(with_db(host="db.example", port=3307, database="logs", retries=0))
    assert (db.host, db.port, db.database, db.retries) == ("db.example", 3307, "logs", 0)
    with pytest.raises(AttributeError):
        db.table = "other"  # type: ignore[misc]
    assert read_params(with_db(host="", database=None, timeout_s=None)).timeout_s == 30.0


def test_environment_beats_env_file_beats_params(tmp_path: Path) -> None:
    (tmp_path / "db.env").write_text(
        "# secrets\nFRUITVEG_DB_HOST=file-host\nexport FRUITVEG_DB_USER='pusher'\n"
        f'FRUITVEG_DB_PASSWORD="{SECRET}"\nFRUITVEG_DB_PORT=3307\n',
        encoding="utf-8",
    )
    environ = {"DVC_ROOT": str(tmp_path), "FRUITVEG_DB_HOST": "env-host"}
    target = resolved(with_db(host="params-host", port=3306, database="logs"), environ)
    backend = target.backend
    assert isinstance(backend, MySQL)
    assert (backend.host, backend.port, backend.database) == ("env-host", 3307, "logs")
    assert (backend.user, backend.password) == ("pusher", SECRET)
    assert SECRET not in repr(target)
    assert SECRET not in str(target.describe())
    assert "pusher" not in str(target.describe()) and "pusher" not in repr(target)
    assert target.describe()["tls_verified"] is False

    params_only = resolved(
        with_db(host="params-host", database="logs"), {"DVC_ROOT": str(tmp_path)}
    )
    assert params_only.backend.host == "file-host"  # the file beats params.yaml


@pytest.mark.parametrize("key", ["user", "password", "ssl_key"])
def test_credentials_in_params_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ParamError, match=f"db.{key}") as err:
        read_params(with_db(**{key: SECRET}))
    assert SECRET not in str(err.value)


def test_a_host_without_credentials_names_the_missing_setting(tmp_path: Path) -> None:
    environ = {"DVC_ROOT": str(tmp_path), "FRUITVEG_DB_HOST": "db.example"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_NAME or params.yaml db.database"):
        resolved(PARAMS, environ)
    environ |= {"FRUITVEG_DB_NAME": "logs", "FRUITVEG_DB_USER": "u"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_PASSWORD is not set.* in db.env"):
        resolved(PARAMS, environ)


def test_a_bad_env_file_line_is_named_but_not_echoed(tmp_path: Path) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"FRUITVEG_DB_USER=u\nFRUITVEG_DB_PASSWORD {SECRET}\n", encoding="utf-8")
    with pytest.raises(ParamError, match="line 2") as err:
        resolved(PARAMS, {"FRUITVEG_DB_ENV_FILE": str(env_file)})
    assert SECRET not in str(err.value)
    with pytest.raises(ParamError, match="FRUITVEG_DB_ENV_FILE: file not found"):
        resolved(PARAMS, {"FRUITVEG_DB_ENV_FILE": str(tmp_path / "missing.env")})


def test_tls_files_must_exist_and_cert_needs_key(tmp_path: Path) -> None:
    base = {
        "DVC_ROOT": str(tmp_path),
        "FRUITVEG_DB_HOST": "db.example",
        "FRUITVEG_DB_NAME": "logs",
        "FRUITVEG_DB_USER": "u",
        "FRUITVEG_DB_PASSWORD": SECRET,
    }
    with pytest.raises(ParamError, match="FRUITVEG_DB_SSL_CA: file not found: ca.pem"):
        resolved(PARAMS, base | {"FRUITVEG_DB_SSL_CA": "ca.pem"})
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "client.crt").write_text("x")
    target = resolved(PARAMS, base | {"FRUITVEG_DB_SSL_CA": "ca.pem"})
    assert target.backend.ssl_ca == tmp_path / "ca.pem"
    assert target.describe()["tls_verified"] is True
    with pytest.raises(ParamError, match="must be given together"):
        resolved(PARAMS, base | {"FRUITVEG_DB_SSL_CERT": "client.crt"})


HOSTILE_TABLES = [
    "training_logs; DROP TABLE training_logs",
    "logs`; DROP TABLE x; --",
    'logs"',
    "1logs",
    "",
    "x" * 65,
    "naïve",
    "logs -- ",
]


@pytest.mark.parametrize("name", HOSTILE_TABLES)
def test_hostile_table_names_are_refused(name: str) -> None:
    with pytest.raises(ParamError, match="db.table"):
        read_params(with_db(table=name))
    if name:  # an empty variable counts as unset
        with pytest.raises(ParamError, match="FRUITVEG_DB_TABLE"):
            resolved(PARAMS, {"FRUITVEG_DB_TABLE": name})
    assert validate_identifier("Training_Logs_2", "x") == "Training_Logs_2"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("retries", 2.5),
        ("retries", -1),
        ("timeout_s", "soon"),
        ("timeout_s", 0.05),
        ("retry_backoff_s", True),
        ("retry_backoff_s", math.inf),  # time.sleep: OverflowError
        ("retry_backoff_s", 1e308),  # doubled once: inf
        ("timeout_s", math.nan),
        ("retries", 10_000),  # 2 ** 9999 seconds
        ("port", 0),
    ],
)
def test_bad_numbers_name_the_setting(setting: str, value: object) -> None:
    with pytest.raises(ParamError, match=f"params.yaml: 'db.{setting}' must be"):
        read_params(with_db(**{setting: value}))


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("host", "db host; rm", "params.yaml: db.host: expected a host name"),
        ("database", "logs;", "params.yaml: db.database: expected a database name"),
        ("port", 70000, "params.yaml: db.port: port must be at most 65535"),
        ("sqlite_path", "  ", "db.sqlite_path must be a non-empty path"),
    ],
)
def test_bad_params_values_name_the_setting(setting: str, value: object, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        read_params(with_db(**{setting: value}))


def test_bad_environment_values_name_the_variable() -> None:
    environ = {"FRUITVEG_DB_HOST": "db.example", "FRUITVEG_DB_PORT": "99999"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_PORT: port must be at most 65535"):
        resolved(PARAMS, environ)
    with pytest.raises(ParamError, match="FRUITVEG_DB_PORT: expected a whole number"):
        resolved(PARAMS, environ | {"FRUITVEG_DB_PORT": "3306.0"})
    with pytest.raises(ParamError, match="FRUITVEG_DB_HOST: expected a host name"):
        resolved(PARAMS, {"FRUITVEG_DB_HOST": "a b"})
    with pytest.raises(ParamError, match="FRUITVEG_DB_NAME: expected a database name"):
        resolved(PARAMS, environ | {"FRUITVEG_DB_PORT": "1", "FRUITVEG_DB_NAME": "x;y"})


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_run_identity_from_git_and_dvc_experiment(tmp_path: Path) -> None:
    assert run_identity({}, cwd=tmp_path).run == "no-git"  # not a repository
    git(tmp_path, "init", "-q")
    assert run_identity({}, cwd=tmp_path).git_rev is None  # no commit yet
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "x")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert run_identity({}, cwd=tmp_path).run == head
    exp = run_identity({"DVC_EXP_NAME": "lr-1e-3"}, cwd=tmp_path)
    assert (exp.run, exp.git_rev, exp.exp_name) == (f"{head}@lr-1e-3", head, "lr-1e-3")
    queued = run_identity({"DVC_EXP_NAME": "q", "DVC_EXP_BASELINE_REV": "b" * 40}, cwd=tmp_path)
    assert queued.run == "b" * 40 + "@q"


def test_history_rows_are_naive_utc_and_non_finite_numbers_are_null(tmp_path: Path) -> None:
    path = tmp_path / "cnn.csv"
    path.write_text(
        "epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate\n"
        "1,2026-11-28T10:00:00.5+02:00,2026-11-28T08:01:00,nan,0.5,inf,0.4,1e-4\n",
        encoding="utf-8",
    )
    (row,) = epoch_rows("cnn", history.read(path))
    assert row.start_time.isoformat() == "2026-11-28T08:00:00.500000"
    assert row.end_time.isoformat() == "2026-11-28T08:01:00"  # no zone: taken as UTC
    assert row.train_loss is None and row.val_loss is None  # stored as NULL
    assert (row.train_accuracy, row.val_accuracy, row.learning_rate) == (0.5, 0.4, 1e-4)
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in vars(row).values())


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".hidden", "", "x" * 65, 3])
def test_model_names_that_are_not_file_names_are_refused(name: object) -> None:
    with pytest.raises(ParamError, match="model name"):
        epoch_rows(name, [])  # type: ignore[arg-type]


BACKENDS = [
    SQLite(Path("x.sqlite"), "x.sqlite"),
    MySQL("db.example", 3306, "logs", user="u", password=SECRET),
]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_each_backend_writes_a_keyed_upsert_over_every_column(backend) -> None:
    q = backend.quote
    create = backend.create_table("training_logs")
    assert create.startswith(f"CREATE TABLE IF NOT EXISTS {q('training_logs')} (")
    assert f"PRIMARY KEY ({', '.join(q(c) for c in KEY_COLUMNS)})" in create
    assert all(f"{q(c)} {backend.types[c]}" in create for c in COLUMNS)
    upsert = backend.upsert("training_logs")
    assert upsert.count(backend.mark) == len(COLUMNS)
    assert "UPDATE" in upsert and not any(f"{q(c)} =" in upsert for c in KEY_COLUMNS)
    assert SECRET not in repr(backend) and SECRET not in str(backend.describe("t"))

"""Settings, secrets, identifiers, run identity and history parsing (no server needed)."""

import subprocess
from pathlib import Path

import pytest
from db_helpers import history_csv

from fruitveg.core.params import ParamError
from fruitveg.db.config import load_target, validate_identifier
from fruitveg.db.push import DbError, read_history, run_identity, validate_model_name

SECRET = "hunter2-Zq9"
PARAMS = {"db": {"table": "training_logs", "sqlite_path": "data/push_db/logs.sqlite"}}


def with_db(**db: object) -> dict:
    return {"db": PARAMS["db"] | db}


def test_without_host_the_target_is_the_sqlite_file(tmp_path: Path) -> None:
    target = load_target(PARAMS, {"DVC_ROOT": str(tmp_path)})
    assert target.backend == "sqlite"
    assert target.sqlite_path == tmp_path / "data/push_db/logs.sqlite"
    assert target.describe() == {
        "backend": "sqlite",
        "path": "data/push_db/logs.sqlite",
        "table": "training_logs",
    }


def test_environment_beats_env_file_beats_params(tmp_path: Path) -> None:
    (tmp_path / "db.env").write_text(
        "# secrets\nFRUITVEG_DB_HOST=file-host\nexport FRUITVEG_DB_USER='pusher'\n"
        f'FRUITVEG_DB_PASSWORD="{SECRET}"\nFRUITVEG_DB_PORT=3307\n',
        encoding="utf-8",
    )
    environ = {"DVC_ROOT": str(tmp_path), "FRUITVEG_DB_HOST": "env-host"}
    target = load_target(with_db(host="params-host", port=3306, database="logs"), environ)
    assert (target.host, target.port, target.database) == ("env-host", 3307, "logs")
    assert (target.user, target.password) == ("pusher", SECRET)
    assert SECRET not in repr(target)
    assert SECRET not in str(target.describe())
    assert "pusher" not in str(target.describe())
    assert target.describe()["tls_verified"] is False

    params_only = load_target(
        with_db(host="params-host", database="logs"), {"DVC_ROOT": str(tmp_path)}
    )
    assert params_only.host == "file-host"  # the file beats params.yaml


@pytest.mark.parametrize("key", ["user", "password", "ssl_key"])
def test_credentials_in_params_are_refused_without_echo(key: str) -> None:
    with pytest.raises(ParamError, match=f"db.{key}") as err:
        load_target(with_db(**{key: SECRET}), {})
    assert SECRET not in str(err.value)


def test_a_host_without_credentials_names_the_missing_setting(tmp_path: Path) -> None:
    environ = {"DVC_ROOT": str(tmp_path), "FRUITVEG_DB_HOST": "db.example"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_NAME or params.yaml db.database"):
        load_target(PARAMS, environ)
    environ |= {"FRUITVEG_DB_NAME": "logs", "FRUITVEG_DB_USER": "u"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_PASSWORD is not set"):
        load_target(PARAMS, environ)


def test_a_bad_env_file_line_is_named_but_not_echoed(tmp_path: Path) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"FRUITVEG_DB_USER=u\nFRUITVEG_DB_PASSWORD {SECRET}\n", encoding="utf-8")
    with pytest.raises(ParamError, match="line 2") as err:
        load_target(PARAMS, {"FRUITVEG_DB_ENV_FILE": str(env_file)})
    assert SECRET not in str(err.value)
    with pytest.raises(ParamError, match="FRUITVEG_DB_ENV_FILE: file not found"):
        load_target(PARAMS, {"FRUITVEG_DB_ENV_FILE": str(tmp_path / "missing.env")})


def test_tls_files_must_exist_and_cert_needs_key(tmp_path: Path) -> None:
    base = {
        "DVC_ROOT": str(tmp_path),
        "FRUITVEG_DB_HOST": "db.example",
        "FRUITVEG_DB_NAME": "logs",
        "FRUITVEG_DB_USER": "u",
        "FRUITVEG_DB_PASSWORD": SECRET,
    }
    with pytest.raises(ParamError, match="FRUITVEG_DB_SSL_CA: file not found: ca.pem"):
        load_target(PARAMS, base | {"FRUITVEG_DB_SSL_CA": "ca.pem"})
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "client.crt").write_text("x")
    target = load_target(PARAMS, base | {"FRUITVEG_DB_SSL_CA": "ca.pem"})
    assert target.ssl_ca == tmp_path / "ca.pem" and target.describe()["tls_verified"] is True
    with pytest.raises(ParamError, match="must be given together"):
        load_target(PARAMS, base | {"FRUITVEG_DB_SSL_CERT": "client.crt"})


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
        load_target(with_db(table=name), {})
    if name:  # an empty variable counts as unset
        with pytest.raises(ParamError, match="FRUITVEG_DB_TABLE"):
            load_target(PARAMS, {"FRUITVEG_DB_TABLE": name})
    assert validate_identifier("Training_Logs_2", "x") == "Training_Logs_2"


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "a\\b", ".hidden", "", "x" * 65, 3])
def test_model_names_that_are_not_file_names_are_refused(name: object) -> None:
    with pytest.raises(DbError, match="model name"):
        validate_model_name(name)


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


def test_history_is_parsed_to_utc_and_bad_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "cnn.csv"
    path.write_text(
        "epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate\n"
        "1,2026-11-28T10:00:00.5+02:00,2026-11-28T08:01:00+00:00,nan,0.5,1.2,0.4,1e-4\n",
        encoding="utf-8",
    )
    (row,) = read_history(path, "cnn")
    assert row.start_time is not None and row.start_time.isoformat() == "2026-11-28T08:00:00.500000"
    assert row.train_loss is None  # NaN is stored as NULL
    assert (row.train_accuracy, row.val_loss, row.learning_rate) == (0.5, 1.2, 1e-4)

    path.write_text(history_csv("cnn", 2) + "2,,,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(DbError, match=r"cnn.csv, line 4: epoch 2 .*repeated"):
        read_history(path, "cnn")
    path.write_text("epoch,loss\n1,0.5\n", encoding="utf-8")
    with pytest.raises(DbError, match="missing column.*start_time"):
        read_history(path, "cnn")
    with pytest.raises(DbError, match="history not found"):
        read_history(tmp_path / "vgg16.csv", "vgg16")


@pytest.mark.parametrize(
    ("setting", "value"),
    [("retries", 2.5), ("retries", -1), ("timeout_s", "soon"), ("retry_backoff_s", True)],
)
def test_bad_numbers_name_the_setting(setting: str, value: object) -> None:
    with pytest.raises(ParamError, match=f"params.yaml: db.{setting}: expected"):
        load_target(with_db(**{setting: value}), {})


def test_a_bad_port_from_the_environment_names_the_variable() -> None:
    environ = {"FRUITVEG_DB_HOST": "db.example", "FRUITVEG_DB_PORT": "99999"}
    with pytest.raises(ParamError, match="FRUITVEG_DB_PORT: port must be at most 65535"):
        load_target(PARAMS, environ)

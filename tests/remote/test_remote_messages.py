"""scripts/remote.py in-process: DVC's failure output becomes one line naming the remote and
what to check, and no secret of the remote's configuration or the environment survives.
(The same against real servers: test_remote.py.)"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ..core.planted import PASSWORD, planted_forms

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def remote() -> ModuleType:
    path = REPO / "scripts" / "remote.py"
    spec = importlib.util.spec_from_file_location("remote_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S3_403 = (
    "ERROR: failed to connect to s3 (team-cache/fruitveg/files/md5) - Forbidden: An error "
    "occurred (403) when calling the HeadObject operation: Forbidden\n"
    "ERROR: failed to pull data from the cloud - 6 files failed to download\n"
)
S3_DOWN = (
    'ERROR: unexpected error - Could not connect to the endpoint URL: "http://127.0.0.1:9/b/x"\n'
)
SSH_DENIED = (
    "ERROR: unexpected error - Permission denied for user ann on host h: Permission denied\n"
)
SSH_DOWN = "ERROR: unexpected error - [Errno 111] Connect call failed ('10.1.2.3', 2222)\n"


@pytest.mark.parametrize(
    ("url", "output", "expected"),
    [
        ("s3://b/p", S3_403, "refused the credentials: check AWS_ACCESS_KEY_ID"),
        ("s3://b/p", S3_DOWN, "could not reach the server: check the endpoint"),
        ("ssh://ann@h/srv", SSH_DENIED, "refused the login: check the key"),
        ("ssh://ann@h/srv", SSH_DOWN, "could not reach the server: check the host and port"),
    ],
)
def test_each_cause_is_one_line_naming_the_remote_and_the_fix(
    remote: ModuleType, url: str, output: str, expected: str
) -> None:
    config = remote.Remote("team", url, {"url": url, "endpointurl": "https://s3.example.com"})
    said = remote.message(["pull"], output, config)
    assert "\n" not in said and said.startswith("remote: dvc pull with remote 'team' (")
    assert expected in said, said


def test_an_unknown_failure_keeps_dvcs_first_error(remote: ModuleType) -> None:
    config = remote.Remote("team", "s3://b/p", {"url": "s3://b/p"})
    said = remote.message(["push"], "ERROR: failed to push: disk quota exceeded\nmore\n", config)
    assert said == "remote: dvc push failed: failed to push: disk quota exceeded"


def test_secrets_of_the_config_the_url_and_the_environment_are_masked(
    remote: ModuleType,
) -> None:
    url = "ssh://ann:url-Passw0rd-9@h/srv"
    config = {"remote": {"team": {"url": url, "passphrase": "key-Phrase-77"}}}
    scrub = remote.scrubber(config, {"AWS_SECRET_ACCESS_KEY": "env/Secret+Key=="})
    text = scrub("url-Passw0rd-9 key-Phrase-77 env/Secret+Key== env%2FSecret%2BKey%3D%3D")
    assert "Passw0rd" not in text and "Phrase" not in text and "Secret" not in text, text


def test_no_remote_or_not_a_repository_gives_dvcs_message(
    remote: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert remote.remote_named(["pull"], remote.configured()) is None
    said = remote.message(["pull"], "ERROR: you are not inside of a DVC repository\n", None)
    assert said == "remote: dvc pull failed: you are not inside of a DVC repository"


def dvc_repo(root: Path) -> None:
    """A git + DVC repository at `root` with remote team (a password in its URL and one in
    .dvc/config.local) and remote other (an S3 secret key)."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(args, cwd=root, env=env, check=True, capture_output=True)
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = team\n"
        f"['remote \"team\"']\n    url = ssh://ann:{URL_PW}@h/srv\n"
        "['remote \"other\"']\n    url = s3://b/p\n"
    )
    (root / ".dvc" / "config.local").write_text(
        f"['remote \"team\"']\n    password = {PASSWORD}\n"
        f"['remote \"other\"']\n    secret_access_key = {S3_KEY}\n"
    )


URL_PW, S3_KEY = "u-rl/Pw+9", "s3-Secret/Key+77=="
SECRETS = (URL_PW, S3_KEY, PASSWORD, "Fresh-S3cret 5")


def leaked(text: str) -> list[str]:
    return [form for secret in SECRETS for form in planted_forms(secret) if form in text]


@pytest.mark.parametrize(
    "args",
    [
        ["remote", "list"],
        ["config", "--list"],
        ["config", "--list", "--show-origin"],
        ["config", "remote.team.password"],
        ["config", "remote.other.secret_access_key"],
        # fails (no such remote): the command line, with the secret, used to be repeated
        ["remote", "modify", "--local", "nosuch", "password", "Fresh-S3cret 5"],
        ["config", "--local", "remote.nosuch.secret_access_key", "Fresh-S3cret 5"],
        ["remote", "add", "new", "ssh://ann:Fresh-S3cret 5@h/srv", "--bogus-flag"],
        # succeeds; -v: DVC's debug lines repeat the command line
        ["remote", "modify", "--local", "team", "password", "Fresh-S3cret 5", "-v"],
    ],
)
def test_no_secret_in_any_output(
    remote: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, args: list[str]
) -> None:
    dvc_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    code = remote.main(args)
    out = capsys.readouterr()
    assert out.out + out.err, "nothing printed"
    assert not leaked(out.out + out.err), out
    assert "***" in out.out + out.err or code == 0, out


def test_masking_keeps_what_is_not_secret(remote: ModuleType) -> None:
    assert remote.masked_args(["remote", "modify", "team", "password", "pw", "-v"]) == [
        "remote", "modify", "team", "password", "***", "-v"]  # fmt: skip
    assert remote.masked_args(["config", "remote.t.Token", "x", "core.remote", "t"]) == [
        "config", "remote.t.Token", "***", "core.remote", "t"]  # fmt: skip
    assert remote.mask("remote.t.url=ssh://ann:pw@h/srv\nremote.t.user=ann\n") == (
        "remote.t.url=ssh://ann:***@h/srv\nremote.t.user=ann\n"
    )
    assert remote.mask(".dvc/config.local\tremote.t.password=a b") == (
        ".dvc/config.local\tremote.t.password=***"
    )
    assert remote.mask("key_secret = zz\nkeyfile = ~/.ssh/id\n") == (
        "key_secret = ***\nkeyfile = ~/.ssh/id\n"
    )


def test_a_secret_too_short_for_the_scrubber_is_masked_too(
    remote: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    dvc_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    said = {}
    for args in (
        ["remote", "modify", "--local", "team", "password", "q7z", "-v"],  # DVC's debug lines
        ["config", "remote.team.password"],
        ["config", "--local", "-l"],
    ):
        assert remote.main(args) == 0
        out = capsys.readouterr()
        assert "q7z" not in out.out + out.err, out
        said[args[-1]] = out.out + out.err
    assert "command: remote modify --local team password *** -v" in said["-v"]
    assert said["remote.team.password"] == "***\n"
    assert "remote.team.password=***\n" in said["-l"]
    assert remote.reads_secret(["config", "--local", "remote.t.token"])
    assert not remote.reads_secret(["config", "remote.t.token", "x"])
    assert not remote.reads_secret(["config", "remote.t.url"])

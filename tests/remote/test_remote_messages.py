"""scripts/remote.py in-process: DVC's failure output becomes one line naming the remote and
what to check, and no secret of the remote's configuration or the environment survives.
(The same against real servers: test_remote.py.)"""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

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
    config = remote.Remote("team", url, {"url": url, "passphrase": "key-Phrase-77"})
    scrub = remote.scrubber(config, {"AWS_SECRET_ACCESS_KEY": "env/Secret+Key=="})
    text = scrub("url-Passw0rd-9 key-Phrase-77 env/Secret+Key== env%2FSecret%2BKey%3D%3D")
    assert "Passw0rd" not in text and "Phrase" not in text and "Secret" not in text, text


def test_no_remote_or_not_a_repository_gives_dvcs_message(
    remote: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert remote.remote_named(["pull"]) is None
    said = remote.message(["pull"], "ERROR: you are not inside of a DVC repository\n", None)
    assert said == "remote: dvc pull failed: you are not inside of a DVC repository"

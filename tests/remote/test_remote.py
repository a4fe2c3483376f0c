"""A team shares results through a DVC remote instead of retraining them (docs/remote.md).

Against real servers on 127.0.0.1: an S3-compatible one (moto's server mode, with
authentication) and OpenSSH. One clone reproduces the tiny pipeline once and pushes to both;
a fresh clone pulls from one of them, finds `dvc status` clean, and `dvc repro` trains
nothing (a `python` that refuses to run stages/train.py stands first on its PATH). Wrong
credentials and an unreachable server give one message without the secret; a named
experiment travels through the git server and a remote.
"""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from .conftest import S3_REMOTE, SSH_REMOTE, Team, dvc, run, s3_credentials
from .servers import closed_port, keygen

pytestmark = pytest.mark.pipeline

REMOTES = (S3_REMOTE, SSH_REMOTE)
# Every output DVC caches (not the committed metrics): what a pull has to bring back.
CACHED = (
    "data/raw/train",
    "data/layouts/binary/train",
    "data/layouts/multiclass/test",
    "data/models/cnn/model.keras",
    "data/push_db/receipt.json",
)
NO_TRAINING = """#!/bin/sh
# Stands in for python: any attempt to train fails the test that put it on PATH.
case "$1" in *stages/train.py) echo "TRAINING WAS STARTED: $*" >&2; exit 97;; esac
exec {python} "$@"
"""


def guard_against_training(tmp_path: Path) -> dict[str, str]:
    """PATH with a `python` first that exits 97 for stages/train.py (and runs any other)."""
    folder = tmp_path / "guard"
    folder.mkdir()
    shim = folder / "python"
    shim.write_text(NO_TRAINING.format(python=sys.executable))
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{folder}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                    f"{os.environ['PATH']}"}  # fmt: skip


def credentials(team: Team, clone: Path, remote: str) -> dict[str, str]:
    """Each remote's credentials the way a team member gives them: S3 from the environment,
    SSH as a key file in the clone's .dvc/config.local (never committed)."""
    if remote == S3_REMOTE:
        return s3_credentials(team.s3)
    dvc(clone, "remote", "modify", "--local", SSH_REMOTE, "keyfile", str(team.sshd.key))
    return {}


def test_the_committed_config_names_the_remotes_and_no_secret(team: Team) -> None:
    committed = run(team.origin, "git", "show", "HEAD:.dvc/config").stdout
    assert f"['remote \"{S3_REMOTE}\"']" in committed and team.s3.endpoint in committed
    assert f"['remote \"{SSH_REMOTE}\"']" in committed
    assert "remote = s3team" in committed  # the default for push and pull
    tracked = run(team.origin, "git", "grep", "-I", "-l", "-e", team.s3.secret_access_key,
                  "HEAD", check=False)  # fmt: skip
    assert tracked.returncode == 1 and tracked.stdout == "", tracked.stdout
    assert not run(team.origin, "git", "ls-files", ".dvc/config.local").stdout
    assert team.s3.secret_access_key in (team.origin / ".dvc" / "config.local").read_text()


@pytest.mark.parametrize("remote", REMOTES)
def test_a_fresh_clone_pulls_every_output_and_trains_nothing(
    team: Team, tmp_path: Path, remote: str
) -> None:
    clone = team.clone(tmp_path / "clone")
    assert not any((clone / path).exists() for path in CACHED)
    creds = credentials(team, clone, remote)
    dvc(clone, "pull", "-r", remote, extra=creds)
    for path in CACHED:
        assert (clone / path).exists(), f"{path} not pulled from {remote}"
    for path in ("data/models/cnn/model.keras", "data/push_db/receipt.json"):
        assert (clone / path).read_bytes() == (team.origin / path).read_bytes(), path

    status = dvc(clone, "status", extra=creds).stdout
    assert "Data and pipelines are up to date." in status, status
    guard = guard_against_training(tmp_path)
    repro = dvc(clone, "repro", extra=creds | guard, check=False)
    shown = repro.stdout + repro.stderr
    assert repro.returncode == 0, shown
    assert "Running stage" not in shown and "TRAINING WAS STARTED" not in shown, shown
    # The guard is real: forcing one train stage through it fails.
    forced = dvc(clone, "repro", "-f", "-s", "train@cnn", extra=guard, check=False)
    assert forced.returncode != 0 and "TRAINING WAS STARTED" in forced.stderr


def dvc_fails_without_secret(done, secret: str) -> None:
    """DVC's own failure: non-zero, no traceback, no secret in any form it could print."""
    shown = done.stdout + done.stderr
    assert done.returncode != 0 and "ERROR" in shown and "Traceback" not in shown, shown
    assert secret not in shown, "dvc printed the secret"


def one_message(clone: Path, *args: str, extra: dict[str, str] | None = None) -> str:
    """scripts/remote.py's failure: non-zero and exactly one line, on stderr."""
    done = run(clone, sys.executable, "scripts/remote.py", *args, extra=extra, check=False)
    assert done.returncode != 0 and done.stdout == "", done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("remote: dvc "), done.stderr
    return lines[0]


def test_wrong_s3_credentials_give_one_message_without_the_secret(
    team: Team, tmp_path: Path
) -> None:
    clone = team.clone(tmp_path / "clone")
    wrong = "wR0ng-Secret/never+shown-4nywhere"
    dvc(clone, "remote", "modify", "--local", S3_REMOTE, "access_key_id", team.s3.access_key_id)
    dvc(clone, "remote", "modify", "--local", S3_REMOTE, "secret_access_key", wrong)
    dvc_fails_without_secret(dvc(clone, "pull", check=False), wrong)
    said = one_message(clone, "pull")
    assert f"remote '{S3_REMOTE}' (s3://team-cache/fruitveg, endpoint {team.s3.endpoint})" in said
    assert "refused the credentials: check AWS_ACCESS_KEY_ID" in said, said
    assert wrong not in said
    # A key the server never issued, from the environment: the same message, no secret.
    run(clone, "rm", ".dvc/config.local")
    unknown = {"AWS_ACCESS_KEY_ID": "AKIANOTAKEYOFOURS000", "AWS_SECRET_ACCESS_KEY": wrong}
    said = one_message(clone, "push", "-r", S3_REMOTE, extra=unknown)
    assert "refused the credentials" in said and wrong not in said, said


def test_wrong_ssh_key_gives_one_message_without_the_passphrase(team: Team, tmp_path: Path) -> None:
    clone = team.clone(tmp_path / "clone")
    passphrase = "ssh-Passphrase-never-shown-42"
    stranger = keygen(tmp_path / "stranger_ed25519", passphrase)  # not in authorized_keys
    dvc(clone, "remote", "modify", "--local", SSH_REMOTE, "keyfile", str(stranger))
    dvc(clone, "remote", "modify", "--local", SSH_REMOTE, "passphrase", passphrase)
    dvc_fails_without_secret(dvc(clone, "pull", "-r", SSH_REMOTE, check=False), passphrase)
    said = one_message(clone, "pull", "-r", SSH_REMOTE)
    assert f"remote '{SSH_REMOTE}' (ssh://{team.sshd.user}@127.0.0.1:" in said, said
    assert "refused the login: check the key" in said and passphrase not in said, said


@pytest.mark.parametrize("remote", REMOTES)
def test_an_unreachable_remote_gives_one_message(team: Team, tmp_path: Path, remote: str) -> None:
    clone = team.clone(tmp_path / "clone")
    creds = credentials(team, clone, remote)
    port = closed_port()
    if remote == S3_REMOTE:
        dvc(clone, "remote", "modify", "--local", remote, "endpointurl", f"http://127.0.0.1:{port}")
        # botocore retries a refused connection 4 times with backoff, for each file: the
        # message is the same after one attempt, minutes sooner.
        creds |= {"AWS_MAX_ATTEMPTS": "1"}
        expected = "could not reach the server: check the endpoint"
    else:
        url = f"ssh://{team.sshd.user}@127.0.0.1:{port}{team.sshd.storage}"
        dvc(clone, "remote", "modify", "--local", remote, "url", url)
        expected = "could not reach the server: check the host and port"
    said = one_message(clone, "pull", "-r", remote, extra=creds)
    assert f"127.0.0.1:{port}" in said and expected in said, said
    assert team.s3.secret_access_key not in said


def exp_metrics(repo: Path, name: str) -> dict:
    """metrics/eval/cnn.json as the experiment `name` committed it."""
    for baseline in json.loads(dvc(repo, "exp", "show", "--json").stdout):
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("name") == name:
                    return rev["data"]["metrics"]["metrics/eval/cnn.json"]["data"]
    raise AssertionError(f"no experiment {name} in dvc exp show")


def test_a_named_experiment_travels_through_git_and_the_s3_remote(
    team: Team, tmp_path: Path
) -> None:
    """A colleague's experiment: `dvc exp push` to the git server and the default (S3)
    remote; a reviewer's fresh clone `dvc exp pull`s it and applies it without training."""
    name = "colleague-cnn-lr"
    dvc(team.origin, "exp", "run", "--temp", "-q", "-n", name,
        "-S", "models.cnn.lr=0.01", timeout=900)  # fmt: skip
    dvc(team.origin, "exp", "push", "origin", name)

    clone = team.clone(tmp_path / "reviewer")
    creds = s3_credentials(team.s3)
    assert name not in dvc(clone, "exp", "list", "--name-only").stdout
    dvc(clone, "exp", "pull", "origin", name, extra=creds)
    dvc(clone, "exp", "apply", name)
    assert "lr: 0.01" in (clone / "params.yaml").read_text()
    status = dvc(clone, "status", extra=creds).stdout
    assert "Data and pipelines are up to date." in status, status
    guard = guard_against_training(tmp_path)
    repro = dvc(clone, "repro", extra=creds | guard, check=False)
    assert repro.returncode == 0 and "Running stage" not in repro.stdout, repro.stdout
    # The experiment's own model and metrics, not main's: as the colleague's run left them.
    model = "data/models/cnn/model.keras"
    assert (clone / model).read_bytes() != (team.origin / model).read_bytes()
    theirs = exp_metrics(team.origin, name)
    assert json.loads((clone / "metrics" / "eval" / "cnn.json").read_text()) == theirs

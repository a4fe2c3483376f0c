"""Fixtures for the DVC remote tests: one S3 (moto) and one SSH (OpenSSH) server per session,
a bare git repository standing for the team's git server, and one tiny copy of this
repository reproduced once and pushed to both remotes."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..repo_copy import copy_repo
from .servers import BUCKET, REGION, S3Server, SshServer

S3_REMOTE, SSH_REMOTE = "s3team", "sshteam"
# One model: the remote is the point, not the training.
MODELS = ("cnn",)
# botocore wants an existing file where AWS_CONFIG_FILE points (/dev/null is refused).
_NO_AWS = Path(tempfile.mkdtemp(prefix="no-aws-"))
atexit.register(shutil.rmtree, _NO_AWS, True)
EMPTY_AWS_FILE = _NO_AWS / "empty"
EMPTY_AWS_FILE.touch()


def env(cwd: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """No AWS settings of the developer's (only what a test gives), this interpreter first on
    PATH (stages call `python`), DVC's state inside the repository."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return (
        base
        | {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "AWS_CONFIG_FILE": str(EMPTY_AWS_FILE),  # no ~/.aws of whoever runs the tests
            "AWS_SHARED_CREDENTIALS_FILE": str(EMPTY_AWS_FILE),
            "AWS_EC2_METADATA_DISABLED": "true",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        }
        | (extra or {})
    )


def run(
    cwd: Path, *args: str, extra: dict[str, str] | None = None, check: bool = True, timeout=600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env(cwd, extra), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def dvc(cwd: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "dvc", *args, **kwargs)


def _server(server: S3Server | SshServer):
    """Start a server, or fail (never skip): CI installs them, so an absence is a fault."""
    try:
        return server.start()
    except RuntimeError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = _server(S3Server(tmp_path_factory.mktemp("s3")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = _server(SshServer(tmp_path_factory.mktemp("sshd")))
    yield server
    server.stop()


def s3_credentials(s3: S3Server) -> dict[str, str]:
    """The team member's S3 credentials, as the environment gives them."""
    return {"AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_SECRET_ACCESS_KEY": s3.secret_access_key}


@dataclass(frozen=True)
class Team:
    """The shared places: the git server (a bare repository) and both DVC remotes."""

    git: Path
    origin: Path  # the colleague's clone that reproduced and pushed
    s3: S3Server
    sshd: SshServer

    def clone(self, dest: Path) -> Path:
        """A fresh clone from the git server: code, dvc.lock and metrics, no DVC cache."""
        run(dest.parent, "git", "clone", "-q", str(self.git), dest.name)
        return dest


def tiny_params(root: Path) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["synthetic"] = {"train": 3, "validation": 2, "test": 2, "leaks": 2}
    params["layout"]["image_size"] = 32
    params["evaluate"]["bootstrap_resamples"] = 100
    params["models"] = {
        k: v | {"epochs": 1, "batch_size": 16} for k, v in params["models"].items() if k in MODELS
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, s3: S3Server, sshd: SshServer) -> Team:
    """Reproduced once, pushed to both remotes; the configuration as docs/remote.md says:
    URLs and endpoint committed in .dvc/config, credentials in .dvc/config.local."""
    top = tmp_path_factory.mktemp("team")
    git = top / "team.git"
    run(top, "git", "init", "-q", "--bare", "-b", "main", str(git))
    origin = top / "origin"
    origin.mkdir()
    copy_repo(origin)
    tiny_params(origin)
    run(origin, "git", "init", "-q", "-b", "main")
    run(origin, "git", "remote", "add", "origin", str(git))
    dvc(origin, "remote", "add", "-d", S3_REMOTE, f"s3://{BUCKET}/fruitveg")
    dvc(origin, "remote", "modify", S3_REMOTE, "endpointurl", s3.endpoint)
    dvc(origin, "remote", "modify", S3_REMOTE, "region", REGION)
    dvc(origin, "remote", "modify", "--local", S3_REMOTE, "access_key_id", s3.access_key_id)
    dvc(origin, "remote", "modify", "--local", S3_REMOTE, "secret_access_key", s3.secret_access_key)
    ssh_url = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}{sshd.storage}"
    dvc(origin, "remote", "add", SSH_REMOTE, ssh_url)
    dvc(origin, "remote", "modify", "--local", SSH_REMOTE, "keyfile", str(sshd.key))
    run(origin, "git", "add", "-A")
    run(origin, "git", "commit", "-qm", "tiny pipeline, team remotes")  # dvclive needs a commit
    dvc(origin, "repro", "-q", timeout=900)
    run(origin, "git", "add", "-A")
    run(origin, "git", "commit", "-qm", "reproduced")
    run(origin, "git", "push", "-q", "origin", "main")
    dvc(origin, "push", "-r", S3_REMOTE)
    dvc(origin, "push", "-r", SSH_REMOTE)
    return Team(git=git, origin=origin, s3=s3, sshd=sshd)

"""Real remote servers for the DVC remote tests, on 127.0.0.1 in temporary folders.

- S3: moto's server mode (the S3 HTTP API) in a child process, with authentication on: the
  first actions make an IAM user with an access key allowed everything on S3, and the
  bucket; every request after them must be signed with that key.
- SSH: Debian's OpenSSH server on a free unprivileged port, with its own host key, config
  and authorized key (ed25519, made for the test), logging in as the user running the tests.
"""

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD_HINT = (
    "OpenSSH server not found (/usr/sbin/sshd): the SSH remote tests need a real one: "
    "apt-get install -y --no-install-recommends openssh-server (make system does)"
)
BUCKET = "team-cache"
REGION = "us-east-1"
# moto authenticates only after this many actions: exactly those _setup_s3 makes.
SETUP_ACTIONS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (taken free, then released)."""
    return free_port()


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{_tail(log)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in {timeout:.0f} s")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class S3Server:
    root: Path
    port: int = 0
    access_key_id: str = ""
    secret_access_key: str = ""
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Server":
        log = self.root / "moto.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_ACTIONS)
        for _ in range(3):  # a port picked free can be taken before the server binds it
            self.port = free_port()
            with log.open("w") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                )  # fmt: skip
            try:
                _wait_port(self.port, self.proc, "moto_server", log)
            except RuntimeError:
                _stop(self.proc)
                continue
            self._setup()
            return self
        raise RuntimeError(f"moto_server did not start:\n{_tail(log)}")

    def _setup(self) -> None:
        import boto3  # only the S3 tests need it (dvc-s3 brings it)

        anyone = {
            "region_name": REGION,
            "endpoint_url": self.endpoint,
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam = boto3.client("iam", **anyone)
        iam.create_user(UserName="team")  # 1
        policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'  # noqa: E501
        iam.put_user_policy(UserName="team", PolicyName="s3", PolicyDocument=policy)  # 2
        key = iam.create_access_key(UserName="team")["AccessKey"]  # 3
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        boto3.client("s3", **anyone).create_bucket(Bucket=BUCKET)  # 4: the last unsigned one

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


def sshd_binary() -> str:
    found = shutil.which("sshd") or shutil.which("/usr/sbin/sshd")
    if not found:
        raise RuntimeError(SSHD_HINT)
    return found


def keygen(path: Path, passphrase: str = "") -> Path:
    """A new ed25519 key pair at path (and path.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "dvc-remote-test",
         "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


@dataclass
class SshServer:
    root: Path
    port: int = 0
    user: str = field(default_factory=getpass.getuser)
    proc: subprocess.Popen | None = None

    @property
    def key(self) -> Path:
        """The client key the server accepts."""
        return self.root / "client_ed25519"

    @property
    def storage(self) -> Path:
        """The folder the remote stores DVC's objects in."""
        return self.root / "storage"

    def start(self) -> "SshServer":
        sshd = sshd_binary()
        keygen(self.root / "host_ed25519")
        keygen(self.key)
        authorized = self.root / "authorized_keys"
        shutil.copy(self.key.with_suffix(".pub"), authorized)
        authorized.chmod(0o600)
        self.storage.mkdir()
        if os.geteuid() == 0:
            # sshd's privilege separation needs this folder when started as root.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = self.root / "sshd.log"
        for _ in range(3):
            self.port = free_port()
            config = self.root / "sshd_config"
            config.write_text(
                "\n".join(
                    [
                        f"Port {self.port}",
                        "ListenAddress 127.0.0.1",
                        f"HostKey {self.root / 'host_ed25519'}",
                        f"PidFile {self.root / 'sshd.pid'}",
                        f"AuthorizedKeysFile {authorized}",
                        f"AllowUsers {self.user}",
                        "PubkeyAuthentication yes",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "PermitRootLogin prohibit-password",
                        "UsePAM no",
                        "StrictModes no",  # the temporary folder's modes are not sshd's concern
                        "Subsystem sftp internal-sftp",
                        "LogLevel VERBOSE",
                    ]
                )
                + "\n"
            )
            # -D: stay in the foreground (a child we can stop); -e: log to stderr.
            with log.open("w") as out:
                self.proc = subprocess.Popen(
                    [sshd, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            try:
                _wait_port(self.port, self.proc, "sshd", log)
                return self
            except RuntimeError:
                _stop(self.proc)
        raise RuntimeError(f"sshd did not start:\n{_tail(log)}")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

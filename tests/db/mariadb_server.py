"""A real MariaDB server for tests: temp data dir, 127.0.0.1, a free port, stopped after.

Also a self-signed certificate authority for the TLS server, and a small TCP proxy that
drops connections on demand (real network faults for the retry tests).
"""

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import mysql.connector
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INSTALL_HINT = (
    "MariaDB server not found (mariadbd / mariadb-install-db). The database tests need a "
    "real server: apt-get install -y --no-install-recommends mariadb-server"
)
DATABASE = "fruitveg"
USER = "pusher"
PASSWORD = "S3cret-p4ss-never-shown"
X509_USER = "certuser"
# mariadbd refuses to run as root unless told to; as another user the option is not needed.
AS_ROOT = ["--user=root"] if os.geteuid() == 0 else []


def _find(*names: str) -> str | None:
    for name in names:
        for folder in ("", "/usr/sbin/", "/usr/bin/", "/usr/local/sbin/", "/usr/local/bin/"):
            found = shutil.which(folder + name) if folder else shutil.which(name)
            if found:
                return found
    return None


def binaries() -> tuple[str, str]:
    """Paths of (mariadbd, mariadb-install-db); RuntimeError with the install hint if absent."""
    server = _find("mariadbd", "mysqld")
    installer = _find("mariadb-install-db", "mysql_install_db")
    if not server or not installer:
        raise RuntimeError(INSTALL_HINT)
    return server, installer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MariaDB:
    root: Path
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def log(self) -> Path:
        return self.root / "error.log"

    def start(self) -> "MariaDB":
        server, installer = binaries()
        datadir = self.root / "data"
        init = subprocess.run(
            [
                installer,
                "--no-defaults",
                f"--datadir={datadir}",
                *AS_ROOT,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=4M",
            ],
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{init.stdout}\n{init.stderr}")
        for _ in range(3):  # a port picked free can be taken before the server binds it
            self.port = free_port()
            self.proc = subprocess.Popen(
                [
                    server,
                    "--no-defaults",
                    f"--datadir={datadir}",
                    *AS_ROOT,
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.socket}",
                    f"--pid-file={self.root / 'mysqld.pid'}",
                    f"--log-error={self.log}",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=4M",
                    "--innodb-lock-wait-timeout=20",
                    *self.extra_args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                self._create_users()
                return self
        raise RuntimeError(f"mariadbd did not start; log:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"

    def _wait_ready(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                self.admin().close()
                return True
            except mysql.connector.Error:
                time.sleep(0.1)
        self.stop()
        return False

    def admin(self, database: str | None = None) -> mysql.connector.MySQLConnection:
        """root over the Unix socket (root has no TCP login here)."""
        kwargs = {"database": database} if database else {}
        return mysql.connector.connect(
            unix_socket=str(self.socket),
            user="root",
            use_pure=True,
            collation="utf8mb4_general_ci",
            **kwargs,
        )

    def sql(self, statement: str, args: tuple = (), database: str | None = DATABASE) -> list:
        conn = self.admin(database)
        try:
            cur = conn.cursor()
            cur.execute(statement, args)
            rows = cur.fetchall() if cur.with_rows else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def _create_users(self) -> None:
        conn = self.admin()
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        # A TCP login from 127.0.0.1 may be seen as user@localhost: create both.
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER '{USER}'@'{host}' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'{host}'")
            cur.execute(
                f"CREATE USER '{X509_USER}'@'{host}' IDENTIFIED BY '{PASSWORD}' REQUIRE X509"
            )
            cur.execute(f"GRANT ALL ON {DATABASE}.* TO '{X509_USER}'@'{host}'")
        conn.commit()
        conn.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class TlsServer:
    server: MariaDB
    ca: Path
    wrong_ca: Path
    client_cert: Path
    client_key: Path


# --- certificates ---------------------------------------------------------------------


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(folder: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def issue_cert(
    folder: Path,
    name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    server: bool,
) -> tuple[Path, Path]:
    """A leaf certificate signed by the CA: for a server (names 127.0.0.1 and localhost)
    or a client."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = (
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        if server
        else (x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


# --- a proxy that can drop connections --------------------------------------------------


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to the server; drops the first `refuse` connections at
    once (as a restarting server would) and can cut every open connection on demand."""

    def __init__(self, target_port: int, refuse: int = 0) -> None:
        self.target_port = target_port
        self.refuse = refuse
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._closed:
                client.close()
                return
            with self._lock:
                self.accepted += 1
                drop = self.accepted <= self.refuse
            if drop:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut_all(self) -> None:
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def close(self) -> None:
        self._closed = True
        # shutdown() wakes the accept() blocked in _serve; close() alone does not, and a
        # later proxy given the same descriptor would then serve that thread's connections.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut_all()

"""`dvc push` / `dvc pull` / `dvc exp push|pull` against the team remote, with one clear
message when it fails (docs/remote.md).

    python scripts/remote.py pull                    # dvc pull from the default remote
    python scripts/remote.py push -r sshteam         # dvc push to another remote
    python scripts/remote.py exp pull origin my-exp  # any dvc command and its arguments

Runs the dvc command as given. On success its output passes through. On failure DVC prints
several lines ("unexpected error - Forbidden: ... (403) ... HeadObject", then "failed to
pull data from the cloud"); this prints one instead, naming the remote, its URL and what to
check: the credentials the server refused, or the server it could not reach. No secret is
in any output, failing or not (`remote list`, `config --list` included): every credential
of every remote's configuration, of the command line and of the environment is masked, and
so is every `<secret key>=value` line and every password in a URL.
"""

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fruitveg.core import secrets
from fruitveg.core.secrets import MASK, Scrubber

DOCS = "docs/remote.md"
# Configuration keys (dvc-s3, dvc-ssh, and DVC's other remotes) whose value is a secret.
SECRET_KEYS = (
    "secret_access_key", "session_token", "password", "passphrase", "sse_customer_key",
    "key_secret", "account_key", "sas_token", "client_secret", "token",
)  # fmt: skip
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# What DVC and the S3 and SSH clients print, by cause (matched in lower case).
REFUSED = (
    "forbidden", "(403)", "accessdenied", "access denied", "invalidaccesskeyid",
    "signaturedoesnotmatch", "unable to locate credentials", "nocredentialserror",
    "permission denied for user", "passphrase", "unable to import key", "invalidtoken",
)  # fmt: skip
UNREACHABLE = (
    "could not connect to the endpoint url", "connect call failed", "connection refused",
    "name or service not known", "temporary failure in name resolution", "nodename nor servname",
    "timed out", "timeout", "network is unreachable", "no route to host", "connection lost",
)  # fmt: skip
MISSING = ("nosuchbucket", "bucket does not exist", "the specified bucket")
# `remote.team.password=X` (config --list), `password = X` (a config file): the value masked.
SECRET_SETTING = re.compile(
    rf"((?<![a-z0-9_])(?:{'|'.join(SECRET_KEYS)})[ \t]*=[ \t]*)[^\s].*", re.IGNORECASE
)
URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    settings: Mapping[str, Any]

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0] if "://" in self.url else "local"

    def where(self) -> str:
        endpoint = self.settings.get("endpointurl")
        return f"'{self.name}' ({self.url}" + (f", endpoint {endpoint})" if endpoint else ")")


def configured() -> Mapping[str, Any]:
    """DVC's configuration, every level merged; empty outside a repository."""
    from dvc.repo import Repo  # slow to import: only when needed

    try:
        return Repo(".", uninitialized=True).config
    except Exception:  # noqa: BLE001 - not a DVC repository: DVC's own message is enough
        return {}


def remote_named(args: list[str], config: Mapping[str, Any]) -> Remote | None:
    """The remote the command uses: -r/--remote NAME, else the default one; None if no
    remote is configured (DVC then says so itself)."""
    name = None
    for i, arg in enumerate(args):
        if arg in ("-r", "--remote") and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--remote="):
            name = arg.partition("=")[2]
    name = name or config.get("core", {}).get("remote")
    settings = config.get("remote", {}).get(name) if name else None
    if not settings:
        return None
    return Remote(name, str(settings.get("url", "")), settings)


def _url_password(url: str) -> list[str]:
    """A password written into a URL (ssh://user:password@host)."""
    userinfo = url.partition("://")[2].partition("@")
    return [userinfo[0].partition(":")[2]] if userinfo[1] and ":" in userinfo[0] else []


def masked_args(args: list[str]) -> list[str]:
    """The command line with every secret value masked: what follows a secret key
    (`remote modify team password X`, `config remote.team.password X`), URL passwords."""
    out = list(args)
    for i, arg in enumerate(args[:-1]):
        if arg.rpartition(".")[2].lower() in SECRET_KEYS:
            out[i + 1] = MASK
    return [mask(arg) for arg in out]


def reads_secret(args: list[str]) -> bool:
    """`config remote.team.password`: what the command prints is the secret itself."""
    names = [a for a in args[1:] if not a.startswith("-")]
    return args[0] == "config" and len(names) == 1 and masked_args([*names, ""])[-1] == MASK


def mask(text: str) -> str:
    """Every `<secret key>=value` setting and every password in a URL of `text` masked."""
    return URL_PASSWORD.sub(rf"\1{MASK}@", SECRET_SETTING.sub(rf"\1{MASK}", text))


def scrubber(
    config: Mapping[str, Any], environ: Mapping[str, str], args: Sequence[str] = ()
) -> Scrubber:
    """Masks the secrets of every remote, of the command line and of the environment (the
    AWS ones, and those fruitveg.core.secrets knows: Kaggle, the database)."""
    values = [environ.get(k, "") for k in SECRET_ENV] + secrets.known(environ)[0]
    for settings in config.get("remote", {}).values():
        values += [str(v) for k, v in settings.items() if k in SECRET_KEYS and v]
        values += _url_password(str(settings.get("url", "")))
    values += [a for a, m in zip(args, masked_args(list(args)), strict=True) if a != m]
    values += [p for a in args for p in _url_password(a)]
    return Scrubber(v for v in values if v)


def advice(remote: Remote, cause: str) -> str:
    name = remote.name
    if cause == "refused" and remote.scheme == "s3":
        return (
            "the server refused the credentials: check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the environment, or access_key_id and secret_access_key "
            f"in .dvc/config.local (dvc remote modify --local {name} access_key_id ...)"
        )
    if cause == "refused" and remote.scheme == "ssh":
        user = remote.settings.get("user") or remote.url.partition("://")[2].partition("@")[0]
        return (
            "the server refused the login: check the key (dvc remote modify --local "
            f"{name} keyfile ~/.ssh/id_ed25519, and passphrase if it has one) and that its "
            f"public key is in the server's authorized_keys of user {user or 'you'}"
        )
    if cause == "refused":
        return f"the server refused the credentials of remote '{name}': check .dvc/config.local"
    if cause == "unreachable" and remote.scheme == "s3":
        return (
            "could not reach the server: check the endpoint (dvc remote modify "
            f"{name} endpointurl https://...) and that it is up and reachable from here"
        )
    if cause == "unreachable":
        return (
            "could not reach the server: check the host and port in the URL "
            f"(dvc remote modify {name} url ...) and that it is up and reachable from here"
        )
    return f"the bucket or folder does not exist: check the URL (dvc remote modify {name} url ...)"


def message(command: list[str], output: str, remote: Remote | None) -> str:
    """One line saying why the command failed and what to check."""
    low = output.lower()
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    for cause, marks in (("refused", REFUSED), ("unreachable", UNREACHABLE), ("missing", MISSING)):
        if remote is not None and any(m in low for m in marks):
            what = advice(remote, cause)
            return f"remote: dvc {' '.join(command)} with remote {remote.where()} failed: {what}"
    first = errors[0].removeprefix("ERROR: ") if errors else output.strip()[-500:]
    return f"remote: dvc {' '.join(command)} failed: {first}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    environ = dict(os.environ, DVC_NO_ANALYTICS="1")
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        capture_output=True, text=True, env=environ, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    config = configured()  # after the command: a secret it has just set is in it
    scrub, shown = scrubber(config, environ, args), masked_args(args)

    def clean(text: str) -> str:
        # The command line as DVC's -v repeats it, secrets too short for the scrubber included.
        return mask(scrub(text.replace(" ".join(args), " ".join(shown))))

    if done.returncode == 0:
        out = f"{MASK}\n" if reads_secret(args) and done.stdout.strip() else done.stdout
        sys.stdout.write(clean(out))
        sys.stderr.write(clean(done.stderr))
        return 0
    text = message(shown, done.stdout + done.stderr, remote_named(args, config))
    print(
        clean(f"{text}. DVC's details: python scripts/remote.py {' '.join(shown)} -v; {DOCS}"),
        file=sys.stderr,
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

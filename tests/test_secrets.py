"""End to end: no planted secret in any file the pipeline writes or in anything it prints.

Secrets go where a user keeps them: the environment (a Kaggle token with the "\\r" a CRLF
file leaves, a legacy username and key, a database password), ~/.kaggle/kaggle.json and
db.env. The pipeline then runs on a tiny configuration, its data from a stand-in Kaggle
API on 127.0.0.1, and fails in the ways that once printed credentials: a server error
echoing the request's Authorization header, a token http.client refuses (an unexpected
exception, so a traceback), a database that cannot be reached. Every file under the
repository and HOME, and all captured output, is searched for every secret in plain,
escaped, URL-encoded and base64 forms (HTTP Basic included).
"""

import base64
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from .data.factory import make_raw
from .repo_copy import copy_repo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "kaggle"))  # the stand-in (no package there)
from kaggle_standin import DATASET, StandInKaggle, StandInState, use_standin  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

USER = "secrets-user"
TOKEN = "KGAT_" + secrets.token_hex(16)
KEY = secrets.token_hex(16)
FILE_KEY = "filekey" + secrets.token_hex(12)  # in ~/.kaggle/kaggle.json
PASSWORD = "pw+" + secrets.token_urlsafe(12) + "/&="  # characters URL and base64 escape
FILE_PASSWORD = "filepw" + secrets.token_hex(8)  # in db.env
BROKEN_TOKEN = "KGAT_" + secrets.token_hex(8) + "\n" + secrets.token_hex(8)  # a pasted 2 lines
CLASSES = ["apple", "banana", "carrot", "tomato"]


def leak_forms() -> list[bytes]:
    """Every secret as a message or a file could carry it."""
    values = [TOKEN, KEY, FILE_KEY, PASSWORD, FILE_PASSWORD, BROKEN_TOKEN]
    forms = []
    for value in values:
        forms += [value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe="")]
        forms.append(base64.b64encode(value.encode()).decode())
        for user in (USER, ""):
            forms.append(base64.b64encode(f"{user}:{value}".encode()).decode())
    forms += BROKEN_TOKEN.split("\n")  # each line of the pasted token alone
    return sorted({f.encode() for f in forms})


def leaks(data: bytes) -> list[str]:
    return [form.decode() for form in leak_forms() if form in data]


def archive(tmp: Path) -> bytes:
    """The dataset as Kaggle serves it: a zip of <top>/<split>/<class>/<image>."""
    raw = make_raw(tmp / "Fruits_Vegetables", CLASSES, per_split=4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(raw.rglob("*.jpg")):
            zf.write(path, path.relative_to(tmp).as_posix())
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A copy of the repository on a tiny kaggle configuration, a HOME with kaggle.json,
    a db.env, the stand-in API, and the environment a user with secrets would have."""
    tmp = tmp_path_factory.mktemp("secrets")
    repo, home = tmp / "repo", tmp / "home"
    copy_repo(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["source"] = "kaggle"
    params["layout"]["image_size"] = 32
    params["models"] = {m: params["models"][m] for m in ("binary_cnn", "cnn")}
    for model in params["models"].values():
        model |= {"epochs": 1, "batch_size": 16}
    params["db"]["retries"] = 0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "db.env").write_text(f"FRUITVEG_DB_PASSWORD={FILE_PASSWORD}\r\n")
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": USER, "key": FILE_KEY}))
    (home / ".kaggle" / "kaggle.json").chmod(0o600)
    planted = {repo / "db.env", home / ".kaggle" / "kaggle.json"}

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "FRUITVEG_DB_"))}
    env |= {
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(repo / ".dvc" / "tmp" / "site_cache"),
        "KAGGLE_API_TOKEN": TOKEN + "\r",  # as read from a CRLF file
        "KAGGLE_USERNAME": USER,
        "KAGGLE_KEY": KEY + "\r\n",
        "FRUITVEG_DB_PASSWORD": PASSWORD,
    }
    state = StandInState(username=USER, key=KEY, token=TOKEN, archives={DATASET: archive(tmp)})
    with StandInKaggle(state) as server, pytest.MonkeyPatch.context() as mp:
        use_standin(mp, server.url)
        for name in ("KAGGLE_API_ENVIRONMENT", "HTTP_PROXY"):
            env[name] = os.environ[name]
        for name in ("NO_PROXY", "no_proxy"):
            env.pop(name, None)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "tiny kaggle"]):
            subprocess.run([*git, *cmd], cwd=repo, check=True, env=env)
        yield {"repo": repo, "home": home, "env": env, "state": state, "planted": planted}


def run(world: dict, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run a command of the pipeline; what it printed must hold no secret, whatever its end."""
    done = subprocess.run(
        args, cwd=world["repo"], env=world["env"] | env, capture_output=True, text=True
    )
    output = f"$ {' '.join(args)}\n{done.stdout}{done.stderr}"
    assert leaks(output.encode()) == [], output
    return done


def test_no_secret_anywhere_after_good_and_failing_runs(world: dict) -> None:
    repo, state = world["repo"], world["state"]
    py = sys.executable

    done = run(world, py, "-m", "dvc", "repro")  # token with "\r": stripped, accepted
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((repo / "data" / "push_db" / "receipt.json").read_text())["rows_written"] == 2
    assert (repo / "data" / "push_db" / "training_logs.sqlite").stat().st_size > 0

    state.echo_status = 500  # the server quotes the Authorization header in its error
    for env in ({}, {"KAGGLE_API_TOKEN": ""}):  # Bearer token, then Basic username:key
        done = run(world, py, "stages/download.py", **env)
        assert done.returncode == 1 and "HTTP 500" in done.stderr, done.stderr
        assert ("Basic ***" if env else "Bearer ***") in done.stderr
    state.echo_status = None

    done = run(world, py, "stages/download.py", KAGGLE_API_TOKEN=BROKEN_TOKEN)
    assert done.returncode == 1 and "Traceback" in done.stderr, done.stderr  # unexpected

    with socket.socket() as sock:  # a database nobody answers
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    done = run(
        world, py, "stages/push_db.py",
        FRUITVEG_DB_HOST="127.0.0.1", FRUITVEG_DB_PORT=port, FRUITVEG_DB_USER=USER,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("error: "), done.stderr
    done = run(world, py, "stages/show_logs.py")
    assert done.returncode == 0 and "binary_cnn" in done.stdout, done.stderr

    found = {}
    for root in (repo, world["home"]):
        for path in root.rglob("*"):
            written = path.is_file() and path not in world["planted"]
            if written and ".git" not in path.parts and (hits := leaks(path.read_bytes())):
                found[str(path)] = hits
    assert found == {}
    for path in world["planted"]:  # the search does find a secret in a file that holds one
        assert leaks(path.read_bytes())
    assert len(list(repo.rglob("*"))) > 100  # the search did look at the pipeline's files

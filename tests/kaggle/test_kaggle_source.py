"""The `kaggle` source against a stand-in Kaggle API on 127.0.0.1, with the real client."""

import base64
import io
import json
import zipfile
from functools import partial
from pathlib import Path

import pytest
from kaggle_standin import (
    DATASET,
    KEY,
    TOKEN,
    USERNAME,
    StandInKaggle,
    make_archive,
    use_standin,
)

from fruitveg.core.paths import SPLITS
from fruitveg.download.kaggle_source import KaggleSourceError, _import_kaggle, fetch_kaggle

pytestmark = pytest.mark.timeout(60)
fetch = partial(fetch_kaggle, max_unpacked_bytes=10**8)
# Each credential as a message may carry it: plain, and as an HTTP Basic header.
LEAKS = (TOKEN, KEY, base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode())


def expected_files(archive: bytes) -> dict[str, bytes]:
    """split/class/file -> bytes, whatever top folder the archive has; other files left out."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        out = {}
        for name in zf.namelist():
            parts = name.split("/")
            for i, part in enumerate(parts):
                if part in SPLITS:
                    out["/".join(parts[i:])] = zf.read(name)
                    break
        return out


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def fetch_error(dest: Path, capfd: pytest.CaptureFixture[str], **kwargs: object) -> str:
    """Run a fetch that must fail; check it left nothing and leaked no secret; the message."""
    with pytest.raises(KaggleSourceError) as info:
        fetch(DATASET, dest, **kwargs)  # type: ignore[arg-type]
    assert not dest.exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == [], "temporary litter left"
    out, err = capfd.readouterr()
    texts = [str(info.value), out, err]
    exc: BaseException | None = info.value
    while exc is not None:  # what a traceback would show, suppressed context included
        texts.append(repr(exc))
        exc = exc.__cause__ or exc.__context__
    for secret in LEAKS:
        assert not any(secret in text for text in texts), "a credential leaked"
    return str(info.value)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    parent = tmp_path / "data"
    parent.mkdir()
    return parent / "raw"


# -- success -------------------------------------------------------------------------------


@pytest.mark.parametrize("top", ["", "Fruits_Vegetables_Dataset"], ids=["flat", "nested"])
def test_download_lands_whole_with_layout_normalised(standin, kaggle_env, dest, top):
    # Files beside the splits, and macOS zip litter beside the top folder, are left out.
    extra = {f"__MACOSX/._{top}": b"x"} if top else {"README.txt": b"about"}
    archive = make_archive(top=top, extra=extra)
    standin.state.archives[DATASET] = archive
    kaggle_env.use_token()

    fetch(DATASET, dest)

    assert sorted(p.name for p in dest.iterdir()) == sorted(SPLITS)
    want = expected_files(archive)
    assert len(want) == 3 * 2 * 2
    assert tree(dest) == want
    assert "test/bell pepper/Image_2.jpg" in want  # class names with spaces survive
    assert [p.name for p in dest.parent.iterdir()] == ["raw"], "temporary litter left"
    assert standin.state.calls == [
        "POST /api/v1/security.OAuthService/IntrospectToken",
        "POST /api/v1/datasets.DatasetApiService/DownloadDataset",
        f"GET /storage/{DATASET}.zip",
    ]
    # The client addressed its own local endpoint, then followed the redirect.
    assert standin.state.urls == [
        "http://localhost/api/v1/security.OAuthService/IntrospectToken",
        "http://localhost/api/v1/datasets.DatasetApiService/DownloadDataset",
        f"{standin.url}/storage/{DATASET}.zip",
    ]


@pytest.mark.parametrize("way", ["token", "env key", "kaggle.json"])
def test_every_way_of_giving_credentials_works(standin, kaggle_env, dest, flat_archive, way):
    if way == "token":
        kaggle_env.use_token()
    elif way == "env key":
        kaggle_env.use_key()
    else:  # in KAGGLE_CONFIG_DIR, not ~/.kaggle: the setting is respected
        config = kaggle_env.config_dir / "kaggle.json"
        config.write_text(json.dumps({"username": USERNAME, "key": KEY}))
        config.chmod(0o600)

    fetch(DATASET, dest)

    assert tree(dest) == expected_files(flat_archive)


@pytest.mark.parametrize("way", ["token", "env key"])
def test_client_verbosity_never_prints_credentials(standin, kaggle_env, dest, capfd, way):
    # VERBOSE=1 at import makes the client print every request with its Authorization header.
    kaggle_api = _import_kaggle()[0]  # imported by the session fixture, with no credentials
    kaggle_env.monkeypatch.setattr(kaggle_api, "args", [*kaggle_api.args, "--verbose"])
    kaggle_env.use_token() if way == "token" else kaggle_env.use_key()
    fetch(DATASET, dest)
    out, err = capfd.readouterr()
    assert TOKEN not in out + err and KEY not in out + err
    assert "Authorization" not in out + err


def test_replaces_an_existing_folder_only_when_whole(standin, kaggle_env, dest, flat_archive):
    (dest / "train" / "old").mkdir(parents=True)
    kaggle_env.use_token()
    fetch(DATASET, dest)
    assert tree(dest) == expected_files(flat_archive)


def test_a_dropped_connection_is_resumed(standin, kaggle_env, dest, flat_archive):
    from kaggle.api import kaggle_api_extended

    standin.state.drop_after, standin.state.drops_left = 300, 1
    kaggle_env.use_token()
    backoffs: list[float] = []  # the client would wait 2-3 s before resuming
    kaggle_env.monkeypatch.setattr(kaggle_api_extended.time, "sleep", backoffs.append)

    fetch(DATASET, dest, retries=1)

    assert tree(dest) == expected_files(flat_archive)
    assert standin.state.calls.count(f"GET /storage/{DATASET}.zip") == 2
    assert len(backoffs) == 1 and backoffs[0] >= 2


# -- credentials ---------------------------------------------------------------------------


def test_no_credentials_says_how_to_give_them(standin, dest, capfd):
    message = fetch_error(dest, capfd)
    for hint in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "kaggle.json", "params"):
        assert hint in message
    assert standin.state.calls == [], "no request without credentials"


@pytest.mark.parametrize("way", ["token", "env key", "kaggle.json"])
def test_bad_credentials(standin, kaggle_env, dest, capfd, way):
    wrong = "wrong" + KEY[::-1]
    if way == "token":
        kaggle_env.use_token(wrong)
    elif way == "env key":
        kaggle_env.use_key(wrong)
    else:
        (kaggle_env.config_dir / "kaggle.json").write_text(
            json.dumps({"username": USERNAME, "key": wrong})
        )

    message = fetch_error(dest, capfd)

    assert "rejected" in message and "https://www.kaggle.com/settings/api" in message
    assert wrong not in message


# -- the server and the network ------------------------------------------------------------


@pytest.mark.parametrize("way", ["token", "env key"])
def test_dataset_not_found_names_the_setting(standin, kaggle_env, dest, capfd, way):
    kaggle_env.use_token() if way == "token" else kaggle_env.use_key()
    standin.state.archives.clear()
    message = fetch_error(dest, capfd)
    assert "not found" in message and "data.kaggle_dataset" in message


def test_malformed_dataset_name(kaggle_env, dest):
    kaggle_env.use_token()
    with pytest.raises(KaggleSourceError, match="owner/dataset-slug"):
        fetch("fruit-and-vegetable-image-recognition", dest)


def test_server_not_running(kaggle_env, dest, capfd, closed_port):
    kaggle_env.use_token()
    use_standin(kaggle_env.monkeypatch, f"http://127.0.0.1:{closed_port}")  # nobody there
    message = fetch_error(dest, capfd)
    assert "Cannot reach the Kaggle API" in message and "connection refused" in message
    assert "synthetic" in message


def test_unknown_host(kaggle_env, dest, capfd):
    kaggle_env.use_key()
    use_standin(kaggle_env.monkeypatch, "http://kaggle-standin.invalid")  # RFC 6761
    message = fetch_error(dest, capfd)
    assert "Cannot reach the Kaggle API" in message


def test_interrupted_download_leaves_nothing(standin, kaggle_env, dest, capfd):
    standin.state.drop_after, standin.state.drops_left = 300, 10
    kaggle_env.use_token()
    message = fetch_error(dest, capfd, retries=0)
    assert "interrupted" in message and "again" in message


# -- the archive ---------------------------------------------------------------------------


def _flip_byte_in_first_member(archive: bytes) -> bytes:
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.infolist()[0]
    data[info.header_offset + 30 + len(info.filename) + 10] ^= 0xFF  # inside its data
    return bytes(data)


@pytest.mark.parametrize("damage", ["not a zip", "truncated", "damaged member"])
def test_corrupt_zip(standin, kaggle_env, dest, capfd, flat_archive, damage):
    standin.state.archives[DATASET] = {
        "not a zip": b"<html>Service Unavailable</html>",
        "truncated": flat_archive[: len(flat_archive) // 2],
        "damaged member": _flip_byte_in_first_member(flat_archive),
    }[damage]
    kaggle_env.use_token()
    assert "not a valid zip" in fetch_error(dest, capfd)


def _merge(*archives: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for archive in archives:
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                for name in zf.namelist():
                    out.writestr(name, zf.read(name))
    return buf.getvalue()


@pytest.mark.parametrize(
    "archive",
    [
        make_archive(splits=("train", "test")),
        make_archive(top="images", splits=("Training", "Validation", "Test")),
        _merge(make_archive(top="a"), make_archive(top="b")),
    ],
    ids=["missing validation", "other names", "two candidate folders"],
)
def test_archive_without_the_split_folders(standin, kaggle_env, dest, capfd, archive):
    standin.state.archives[DATASET] = archive
    kaggle_env.use_token()
    message = fetch_error(dest, capfd)
    assert "train, validation, test" in message


def test_standin_checks_credentials(standin: StandInKaggle):
    """The stand-in itself must refuse a wrong key, or the tests above prove nothing."""
    import requests

    url = f"{standin.url}/api/v1/datasets.DatasetApiService/DownloadDataset"
    body = {"ownerSlug": DATASET.split("/")[0], "datasetSlug": DATASET.split("/")[1]}
    bad = requests.post(url, json=body, auth=(USERNAME, "nope"), allow_redirects=False)
    good = requests.post(url, json=body, auth=(USERNAME, KEY), allow_redirects=False)
    assert (bad.status_code, good.status_code) == (401, 302)

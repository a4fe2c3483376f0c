"""The `kaggle` source under hostile input: whitespace around credentials, a server that
echoes them, and archives that are encrypted, oddly named, clashing or zip bombs."""

import io
import json
import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from kaggle_standin import DATASET, KEY, TOKEN, USERNAME, make_archive
from test_kaggle_source import expected_files, fetch, fetch_error, tree

from fruitveg.core import params as P
from fruitveg.download.settings import download_settings

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    parent = tmp_path / "data"
    parent.mkdir()
    return parent / "raw"


# -- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["token", "env key", "kaggle.json"])
@pytest.mark.parametrize("around", ["\r", "\r\n", " \t"], ids=["CR", "CRLF", "blanks"])
def test_credentials_are_stripped(standin, kaggle_env, dest, flat_archive, way, around) -> None:
    """A token or key read from a CRLF file ends in \\r; http.client would refuse it and
    quote the whole Authorization header in its error."""
    if way == "token":
        kaggle_env.use_token(TOKEN + around)
    elif way == "env key":
        kaggle_env.use_key(KEY + around)
        kaggle_env.monkeypatch.setenv("KAGGLE_USERNAME", USERNAME + around)
    else:
        config = kaggle_env.config_dir / "kaggle.json"
        config.write_text(json.dumps({"username": USERNAME + around, "key": KEY + around}))
        config.chmod(0o600)
    fetch(DATASET, dest)
    assert tree(dest) == expected_files(flat_archive)


@pytest.mark.parametrize("way", ["token", "env key"])
def test_a_server_that_echoes_the_request(standin, kaggle_env, dest, capfd, way) -> None:
    kaggle_env.use_token() if way == "token" else kaggle_env.use_key()
    standin.state.echo_status = 500
    message = fetch_error(dest, capfd)  # checks every form of every credential is absent
    assert "HTTP 500" in message and "Authorization: " in message
    assert ("Bearer ***" if way == "token" else "Basic ***") in message


# -- archives --------------------------------------------------------------------------------


def patched(archive: bytes, name: str, central: dict[int, bytes], local: dict[int, bytes]):
    """`archive` with bytes of entry `name`'s central and local headers overwritten."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.getinfo(name)
    at = data.index(b"PK\x01\x02")  # the first central header, then on to this entry's
    while data[at + 46 : at + 46 + len(info.orig_filename)] != info.orig_filename.encode():
        at = data.index(b"PK\x01\x02", at + 4)
    for offset, value in central.items():
        data[at + offset : at + offset + len(value)] = value
    for offset, value in local.items():
        start = info.header_offset + offset
        data[start : start + len(value)] = value
    return bytes(data)


def encrypted() -> bytes:
    archive = make_archive()
    name = "train/apple/Image_1.jpg"
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        flags = struct.pack("<H", zf.getinfo(name).flag_bits | 0x1)
    return patched(archive, name, central={8: flags}, local={6: flags})


def understated() -> bytes:
    """A member whose directory entry claims 100 bytes; it inflates to 5 MB."""
    archive = make_archive(extra={"train/apple/big.jpg": bytes(5_000_000)})
    return patched(archive, "train/apple/big.jpg", central={24: struct.pack("<I", 100)}, local={})


ARCHIVES = {
    "encrypted": (encrypted, "encrypted entry 'train/apple/Image_1.jpg'"),
    "long name": (
        lambda: make_archive(extra={f"train/apple/{'x' * 300}.jpg": b"y"}),
        "longer than 255 bytes",
    ),
    "file then folder": (
        lambda: make_archive(extra={"train/apple/Image_1.jpg/inner.jpg": b"y"}),
        "'train/apple/Image_1.jpg' both as a file and as a folder",
    ),
    "folder then file": (
        lambda: make_archive(extra={"test/apple/": b"", "test": b"a file"}),
        "'test' both as a file and as a folder",
    ),
    "zip bomb": (
        lambda: make_archive(extra={"train/apple/bomb.jpg": bytes(30_000_000)}),
        r"would unpack to 0.03 GB, more than data.max_unpacked_gb \(0.01 GB\)",
    ),
    "understated size": (understated, "not a valid zip"),
}


@pytest.mark.parametrize("case", ARCHIVES)
def test_hostile_archives_are_one_clear_error(
    standin, kaggle_env, dest, capfd, monkeypatch, case
) -> None:
    build, expected = ARCHIVES[case]
    standin.state.archives[DATASET] = build()
    kaggle_env.use_token()
    written: list[int] = []
    copy = shutil.copyfileobj  # what zipfile extracts each member with

    class Counted:
        def __init__(self, dst: io.BufferedWriter) -> None:
            self.dst = dst

        def write(self, chunk: bytes) -> int:
            written.append(len(chunk))
            return self.dst.write(chunk)

    def counted(src, dst, *args):  # type: ignore[no-untyped-def]
        return copy(src, Counted(dst), *args)

    monkeypatch.setattr(shutil, "copyfileobj", counted)
    message = fetch_error(dest, capfd, max_unpacked_bytes=10_000_000)
    assert re.search(expected, message), message
    if case == "understated size":  # extraction stopped at the sizes the directory declares
        with zipfile.ZipFile(io.BytesIO(standin.state.archives[DATASET])) as zf:
            assert 0 < sum(written) <= sum(i.file_size for i in zf.infolist()) < 10_000
    else:
        assert written == [], "refused only after extracting"


# -- the setting ---------------------------------------------------------------------------


def test_the_limit_is_a_setting_of_the_kaggle_source() -> None:
    p = P.load(REPO / "params.yaml")
    p["data"]["source"] = "kaggle"
    assert download_settings(p).max_unpacked_gb == p["data"]["max_unpacked_gb"] > 0
    for bad in (float("inf"), float("nan"), 0, -1, "10", True):
        p["data"]["max_unpacked_gb"] = bad
        with pytest.raises(P.ParamError, match="'data.max_unpacked_gb' must be a number > 0"):
            download_settings(p)
    del p["data"]["max_unpacked_gb"]
    with pytest.raises(P.ParamError, match="missing setting 'data.max_unpacked_gb'"):
        download_settings(p)

"""data.source: local copies exactly what the scan accepted; links that leave the dataset,
loop or lead nowhere are clear errors, and nothing is written."""

import os
from pathlib import Path

import pytest

from fruitveg.data.rawdata import LayoutError, scan
from fruitveg.download.settings import DownloadSettings
from fruitveg.download.sources import download


def fetch(raw: Path, dest: Path) -> list[str]:
    files = download(DownloadSettings("local", local_path=raw), dest)
    return sorted(f.key for f in files)


def refused(raw: Path, tmp_path: Path, match: str) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(LayoutError, match=match):
        fetch(raw, tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was written"


def test_only_what_the_scan_accepts_is_copied(raw: Path, tmp_path: Path) -> None:
    accepted = sorted(f.key for f in scan(raw))
    (raw / "train" / "apple" / "extra" / "deeper").mkdir(parents=True)
    (raw / "train" / "apple" / "extra" / "deeper" / "x.jpg").write_bytes(b"never scanned")
    (raw / "train" / "apple" / ".DS_Store").write_bytes(b"hidden")
    (raw / "notes").mkdir()
    (raw / "notes" / "todo.txt").write_text("beside the splits")
    (raw / "README.md").write_text("beside the splits")
    (raw / ".git").mkdir()
    dest = tmp_path / "dest"
    assert fetch(raw, dest) == accepted
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == accepted


def test_a_link_inside_the_dataset_is_copied_as_a_file(raw: Path, tmp_path: Path) -> None:
    link = raw / "train" / "apple" / "Image_9.jpg"
    link.symlink_to(raw / "test" / "corn" / "Image_1.jpg")
    dest = tmp_path / "dest"
    assert "train/apple/Image_9.jpg" in fetch(raw, dest)
    copied = dest / "train" / "apple" / "Image_9.jpg"
    assert not copied.is_symlink() and copied.read_bytes() == link.read_bytes()


@pytest.mark.parametrize("where", ["file", "class folder", "split folder"])
def test_a_link_out_of_the_dataset_is_refused(raw: Path, tmp_path: Path, where: str) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "apple").mkdir(parents=True)
    (outside / "apple" / "secret.jpg").write_bytes((raw / "test/corn/Image_1.jpg").read_bytes())
    (outside / "Image_1.jpg").write_bytes(b"private")
    if where == "file":
        (raw / "train" / "apple" / "passwd.jpg").symlink_to(outside / "Image_1.jpg")
    elif where == "class folder":
        os.rename(raw / "validation" / "apple", tmp_path / "moved")
        (raw / "validation" / "apple").symlink_to(outside / "apple")
    else:
        os.rename(raw / "test", outside / "test")
        (raw / "test").symlink_to(outside / "test")
    refused(raw, tmp_path, f"outside the dataset {raw}")


@pytest.mark.parametrize("kind", ["itself", "a cycle", "its own folder", "nowhere"])
def test_loops_and_broken_links_are_refused(raw: Path, tmp_path: Path, kind: str) -> None:
    folder = raw / "train" / "apple"
    if kind == "itself":
        (folder / "loop.jpg").symlink_to("loop.jpg")
    elif kind == "a cycle":
        (folder / "a.jpg").symlink_to("b.jpg")
        (folder / "b.jpg").symlink_to("a.jpg")
    elif kind == "its own folder":
        (folder / "again").symlink_to("..")
    else:
        (folder / "gone.jpg").symlink_to("missing.jpg")
    refused(raw, tmp_path, "broken link" if kind == "nowhere" else "symbolic link loop")

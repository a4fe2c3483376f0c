"""The download stage's data sources: synthetic (offline default), kaggle, local."""

import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fruitveg.core.atomic import atomic_dir
from fruitveg.data import rawdata
from fruitveg.download import synthetic
from fruitveg.download.settings import DownloadSettings


def _filler(settings: DownloadSettings) -> tuple[Callable[[Path], Any], str]:
    """What fills a folder from the chosen source, and how to name it in messages."""
    if settings.synthetic is not None:
        s = settings.synthetic
        difficulty = synthetic.Difficulty.at(s.difficulty, s.traits)
        fill = partial(
            synthetic.generate, counts=s.counts, seed=s.seed, leaks=s.leaks,
            difficulty=difficulty, fruit_cue=s.fruit_cue,
        )  # fmt: skip
        return fill, "synthetic"
    if settings.kaggle_dataset is not None:
        from fruitveg.download.kaggle_source import (
            fetch_kaggle,  # the kaggle client is slow to import
        )

        assert settings.max_unpacked_gb is not None  # given with kaggle_dataset
        limit = int(settings.max_unpacked_gb * 1e9)
        fetch = partial(fetch_kaggle, settings.kaggle_dataset, max_unpacked_bytes=limit)
        return fetch, "kaggle archive"
    local = settings.local_path
    assert local is not None  # DownloadSettings holds the chosen source's settings
    check_links(local)
    files = rawdata.scan(local)  # fail on the user's own path before copying anything
    rawdata.check_recordable(files, local)
    return partial(copy_scanned, files, local), str(local)


def check_links(root: Path) -> None:
    """Refuse links among what the scan reads (splits, classes, their files) that leave
    `root`, loop or are broken: a dataset is one self-contained folder."""
    root = Path(root)
    inside = root.resolve()
    level = [root]
    for _ in range(3):  # root/split, root/split/class, root/split/class/file
        below = []
        for folder in level:
            if not folder.is_dir():
                continue  # the scan names what is missing
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith("."):
                    continue  # hidden: the scan skips it, nothing is copied
                if entry.is_symlink():
                    _check_link(entry, root, inside)
                below.append(entry)
        level = below


def _check_link(link: Path, root: Path, inside: Path) -> None:
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        raise rawdata.LayoutError(f"{link}: broken link to {os.readlink(link)}") from None
    except (RuntimeError, OSError):  # RuntimeError up to Python 3.12, OSError(ELOOP) since
        raise rawdata.LayoutError(f"{link}: symbolic link loop") from None
    if not target.is_relative_to(inside):
        raise rawdata.LayoutError(
            f"{link}: links to {target}, outside the dataset {root}; copy the files into "
            "the dataset folder instead"
        )
    if target.is_dir() and link.parent.resolve().is_relative_to(target):
        raise rawdata.LayoutError(f"{link}: symbolic link loop (links to a folder that holds it)")


def copy_scanned(files: list[rawdata.RawFile], root: Path, dest: Path) -> None:
    """Copy exactly the files the scan of `root` accepted into `dest`, in the same layout."""
    for f in files:
        target = dest / f.path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.path, target)


def download(settings: DownloadSettings, dest: Path) -> list[rawdata.RawFile]:
    """Fill `dest` from the chosen source; it appears whole or not at all."""
    fill, label = _filler(settings)
    with atomic_dir(dest) as tmp:
        fill(tmp)
        files = rawdata.scan(tmp, label)
    return [rawdata.RawFile(f.split, f.cls, dest / f.path.relative_to(tmp)) for f in files]

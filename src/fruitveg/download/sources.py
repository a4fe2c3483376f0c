"""The download stage's data sources: synthetic (offline default), kaggle, local."""

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
        fill = partial(synthetic.generate, counts=s.counts, seed=s.seed, leaks=s.leaks)
        return fill, "synthetic"
    if settings.kaggle_dataset is not None:
        from fruitveg.download.kaggle_source import (
            fetch_kaggle,  # the kaggle client is slow to import
        )

        return partial(fetch_kaggle, settings.kaggle_dataset), "kaggle archive"
    local = settings.local_path
    assert local is not None  # DownloadSettings holds the chosen source's settings
    rawdata.scan(local)  # fail on the user's own path before copying anything
    return partial(shutil.copytree, local, dirs_exist_ok=True), str(local)


def download(settings: DownloadSettings, dest: Path) -> list[rawdata.RawFile]:
    """Fill `dest` from the chosen source; it appears whole or not at all."""
    fill, label = _filler(settings)
    with atomic_dir(dest) as tmp:
        fill(tmp)
        files = rawdata.scan(tmp, label)
    return [rawdata.RawFile(f.split, f.cls, dest / f.path.relative_to(tmp)) for f in files]

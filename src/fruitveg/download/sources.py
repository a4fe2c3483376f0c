"""The download stage's data sources: synthetic (offline default), kaggle, local."""

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.atomic import atomic_dir
from fruitveg.core.paths import SPLITS
from fruitveg.data import rawdata
from fruitveg.download import synthetic

SOURCES = ("synthetic", "kaggle", "local")


def _filler(params: dict[str, Any]) -> tuple[Callable[[Path], Any], str]:
    """Check the source's settings; return what fills a folder, and how to name it."""
    source = P.choice(params, "data.source", SOURCES)
    if source == "synthetic":
        counts = {s: P.whole(params, f"data.synthetic.{s}") for s in SPLITS}
        leaks = P.whole(params, "data.synthetic.leaks", minimum=0)
        seed = P.seed(params)
        return partial(synthetic.generate, counts=counts, seed=seed, leaks=leaks), "synthetic"
    if source == "kaggle":
        from fruitveg.download.kaggle_source import (
            fetch_kaggle,  # the kaggle client is slow to import
        )

        return partial(fetch_kaggle, str(P.get(params, "data.kaggle_dataset"))), "kaggle archive"
    if not P.get(params, "data.local_path"):
        raise P.ParamError("params.yaml: 'data.local_path' must name a folder with source local")
    local = Path(str(P.get(params, "data.local_path")))
    rawdata.scan(local)  # fail on the user's own path before copying anything
    return partial(shutil.copytree, local, dirs_exist_ok=True), str(local)


def download(params: dict[str, Any], dest: Path) -> list[rawdata.RawFile]:
    """Fill `dest` from the source that `data.source` names; it appears whole or not at all."""
    fill, label = _filler(params)
    with atomic_dir(dest) as tmp:
        fill(tmp)
        files = rawdata.scan(tmp, label)
    return [rawdata.RawFile(f.split, f.cls, dest / f.path.relative_to(tmp)) for f in files]

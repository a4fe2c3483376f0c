"""The audit's sample grid: a few readable training images with their class names."""

import random
from pathlib import Path

from matplotlib.figure import Figure

from fruitveg.core.atomic import atomic_file
from fruitveg.data.images import ImageError, decode
from fruitveg.data.rawdata import RawFile


def sample_grid(files: list[RawFile], seed: int, target: Path, n: int = 3) -> None:
    """An n x n grid of readable training images with their class names, as in the study."""
    # An unsplit dataset (the split stage makes its splits) has no train/: show any image.
    train = [f for f in files if f.split == "train"] or list(files)
    random.Random(seed).shuffle(train)
    # A Figure without pyplot: no global backend or figure registry is touched.
    fig = Figure(figsize=(9, 9))
    axes = fig.subplots(n, n)
    shown = iter(train)
    for ax in axes.flat:
        for f in shown:
            try:
                ax.imshow(decode(f.path, min_side=256))
                ax.set_title(f.cls)
                break
            except ImageError:
                continue
        ax.axis("off")
    fig.tight_layout()
    with atomic_file(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=80)

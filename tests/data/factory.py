"""Small raw datasets in the real layout, every picture different."""

from pathlib import Path

import numpy as np
from PIL import Image

from fruitveg.download.synthetic import LOOKS, render

SPLITS = ("train", "validation", "test")


def picture(cls: str, key: int, size: int | None = None) -> Image.Image:
    im, _ = render(LOOKS[cls], np.random.default_rng([7, key]))
    return im.resize((size, size)) if size else im


def make_raw(root: Path, classes: list[str], per_split: int = 2) -> Path:
    """root/{train,validation,test}/<class>/Image_<n>.jpg, every picture different."""
    key = 0
    for split in SPLITS:
        for cls in classes:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_split):
                key += 1
                picture(cls, key, 96).save(folder / f"Image_{i + 1}.jpg", quality=90)
    return root

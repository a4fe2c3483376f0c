"""What a layout file holds for a raw picture, as bytes and as pixels: the one
preprocessing that training, evaluation and the prediction command all see.

The layouts are written from layout_jpeg's bytes and the prediction command decodes the
same bytes (layout_pixels), so a model is served exactly the pixels it was trained and
evaluated on: decoded by content, EXIF-turned, RGB, resized, JPEG loss included.
"""

from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from fruitveg.data.images import JPEG_QUALITY, load_resized


def layout_jpeg(path: Path, size: int) -> bytes:
    """The bytes of `path`'s layout file; raises ImageError when it can't be decoded."""
    buffer = BytesIO()
    load_resized(path, size).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def layout_pixels(path: Path, size: int) -> np.ndarray:
    """`path` as a model sees it: its layout JPEG decoded to uint8 RGB, (size, size, 3)."""
    with Image.open(BytesIO(layout_jpeg(path, size))) as im:
        return np.asarray(im.convert("RGB"))

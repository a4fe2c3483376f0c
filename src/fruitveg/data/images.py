"""Decoding any image file, by its content, into an RGB picture.

The extension is never trusted: a GIF or MPO named .jpg, a JPEG named .png, palette,
RGBA, CMYK, 16-bit and grayscale images all come out as 8-bit RGB. Anything that does
not decode raises ImageError with a short reason.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

JPEG_QUALITY = 95


class ImageError(ValueError):
    """The file is not a readable image; the message is the reason."""


def decode(path: Path, min_side: int | None = None) -> Image.Image:
    """Decode `path` to RGB; with `min_side`, large JPEGs decode at a reduced scale.

    JPEG draft mode lets libjpeg scale by 1/2, 1/4 or 1/8 while decoding, keeping the
    result at least `min_side` pixels on each side: a 4000-pixel photo bound for 256 px
    never exists in memory at full size. The whole entropy-coded stream is still read,
    so a truncated file is still caught.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ImageError("empty file")
    try:
        with Image.open(path) as im:
            if min_side is not None and im.format == "JPEG":
                im.draft("RGB", (min_side, min_side))
            im.load()  # first frame of a GIF/MPO/TIFF
            rgb = to_rgb(ImageOps.exif_transpose(im))
    except UnidentifiedImageError:
        raise ImageError("not an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"truncated or corrupt: {exc}") from None
    return rgb


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit samples: scale to 0..255 instead of Pillow's clipping.
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        a = np.clip(a * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")


def load_resized(path: Path, size: int) -> Image.Image:
    """Decode `path` and resize it to a `size` x `size` RGB square (as the study did)."""
    im = decode(path, min_side=size)
    return im.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)

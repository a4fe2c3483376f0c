"""Decoding any image file, by its content, into an RGB picture.

The extension is never trusted: a GIF or MPO named .jpg, a JPEG named .png, palette,
RGBA, CMYK, 16-bit and grayscale images all come out as 8-bit RGB. Anything that does
not decode raises ImageError with a short reason.

Memory per worker stays bounded whatever the input: a picture of more than
MAX_FULL_PIXELS never exists in memory at full size. JPEGs shrink while decoding
(libjpeg's DCT scaling), 8-bit non-interlaced PNGs are decoded a strip of rows at a time
and each strip reduced; any other picture that large is refused with the reason.
"""

import math
import struct
import zlib
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

JPEG_QUALITY = 95
# 4096 x 4096: converting such a picture (RGBA, a white canvas, the blend, RGB) peaks
# near 250 MB, the most one worker may hold. Photos this size come as JPEGs anyway.
MAX_FULL_PIXELS = 1 << 24
STRIP_BYTES = 1 << 22  # raw PNG rows decoded at a time when streaming
JPEGS = ("JPEG", "MPO")


class ImageError(ValueError):
    """The file is not a readable image; the message is the reason."""


def decode(path: Path, min_side: int | None = None) -> Image.Image:
    """Decode `path` to RGB; with `min_side`, large pictures decode at a reduced scale.

    Pictures over MAX_FULL_PIXELS always do (see the module's docstring).

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
            w, h = im.size
            huge = w * h > MAX_FULL_PIXELS
            # An MPO is JPEGs in a row; ordinary ones keep their full decode, as ever.
            if (im.format == "JPEG" and min_side is not None) or (im.format in JPEGS and huge):
                side = min_side or min(w, h)
                if huge:  # draft scales by powers of two; ask for at least the bound's factor
                    side = min(side, min(w, h) // 2 ** math.ceil(math.log2(_bound_factor(w, h))))
                im.draft("RGB", (side, side))
            elif huge and im.format == "PNG":
                return _png_reduced(path, w, h, _reduction(w, h, min_side))
            elif huge:
                raise ImageError(
                    f"too large: {w}x{h} {im.format} is over {MAX_FULL_PIXELS} pixels, and only "
                    "JPEGs and 8-bit non-interlaced PNGs that large are decoded at reduced scale"
                )
            im.load()  # first frame of a GIF/MPO/TIFF
            ImageOps.exif_transpose(im, in_place=True)  # in place: no second full-size copy
            rgb = to_rgb(im)
    except UnidentifiedImageError:
        raise ImageError("not an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too large: {exc}") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, zlib.error, struct.error) as exc:
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


# -- pictures over MAX_FULL_PIXELS ------------------------------------------------------


def _bound_factor(w: int, h: int) -> int:
    """The least whole k with (w / k) * (h / k) <= MAX_FULL_PIXELS."""
    return math.isqrt(-(-w * h // MAX_FULL_PIXELS) - 1) + 1


def _reduction(w: int, h: int, min_side: int | None) -> int:
    """Shrink by the bound's factor at least, and further while `min_side` allows."""
    return max(_bound_factor(w, h), min(w, h) // min_side if min_side else 1)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type: samples per pixel
PNG_KEEP = (b"PLTE", b"tRNS")  # what a strip needs besides its header and rows
PIECE = 1 << 20


def _png_reduced(path: Path, w: int, h: int, k: int) -> Image.Image:
    """A PNG decoded strip by strip, each strip converted to RGB and shrunk k times.

    Pillow decodes a PNG only whole, so each strip of filtered rows is handed to it as a
    small PNG of its own, headed by the last row of the strip before it (unfiltered, with
    filter type None): the strip's first row may be filtered against that row.
    """
    out = Image.new("RGB", (-(-w // k), -(-h // k)))
    with open(path, "rb") as fh:
        if fh.read(8) != PNG_SIGNATURE:
            raise ImageError("not an image")
        chunks = _png_chunks(fh)
        kind, ihdr = next(chunks)
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
        if kind != b"IHDR" or (width, height) != (w, h):
            raise ImageError("truncated or corrupt: PNG header")
        if depth != 8 or interlace or colour not in PNG_CHANNELS:
            raise ImageError(
                f"too large: {w}x{h} PNG ({depth}-bit{', interlaced' if interlace else ''}) is "
                f"over {MAX_FULL_PIXELS} pixels; only 8-bit non-interlaced PNGs that large "
                "are decoded at reduced scale"
            )
        row = 1 + w * PNG_CHANNELS[colour]  # the filter byte, then the samples
        per_strip = k * max(1, STRIP_BYTES // (k * row))
        keep: list[bytes] = []
        exif = b""
        inflate = zlib.decompressobj()
        pending = bytearray()
        done = 0  # rows drawn into `out`
        last = b""  # the row before the next strip, unfiltered

        def draw(n: int) -> None:
            nonlocal done, last
            last = _strip(out, done // k, k, ihdr, keep, last, pending[: n * row], n)
            del pending[: n * row]
            done += n

        keep_closed = False  # PLTE and tRNS come before the image data
        for kind, data in chunks:
            if kind == b"IDAT":
                keep_closed = True
                while data:  # bounded output per call, however well the data compresses
                    pending += inflate.decompress(data, STRIP_BYTES)
                    data = inflate.unconsumed_tail
                    while len(pending) >= per_strip * row and done + per_strip <= h:
                        draw(per_strip)
                    if len(pending) > (h - done) * row + STRIP_BYTES:
                        raise ImageError("truncated or corrupt: PNG holds more rows than it says")
            elif kind in PNG_KEEP and not keep_closed:
                keep.append(_png_chunk(kind, data))
            elif kind == b"eXIf":
                exif = data
        pending += inflate.flush()
        while pending and len(pending) >= row:
            draw(min(per_strip, len(pending) // row))
        if done != h or pending or not inflate.eof:
            raise ImageError("truncated or corrupt: PNG image data does not fill the picture")
    if exif:  # the orientation tag, which may follow the image data in a PNG
        out.info["exif"] = b"Exif\x00\x00" + exif
        ImageOps.exif_transpose(out, in_place=True)
        out.info.pop("exif", None)
    return out


def _strip(
    out: Image.Image, top: int, k: int, ihdr: bytes, keep: list[bytes], last: bytes,
    rows: bytes | bytearray, n: int,
) -> bytes:  # fmt: skip
    """Decode n filtered rows into `out` at row `top`, shrunk k times; returns the last row."""
    head = b"\x00" + last if last else b""
    header = ihdr[:4] + struct.pack(">I", n + bool(last)) + ihdr[8:]
    png = b"".join(
        [
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            *keep,
            _png_chunk(b"IDAT", zlib.compress(head + bytes(rows), 0)),  # stored: no work
            _png_chunk(b"IEND", b""),
        ]
    )
    with Image.open(BytesIO(png)) as im:
        im.load()
        if last:
            im = im.crop((0, 1, im.width, im.height))
        # 8-bit samples as stored (palette indices for P): the next strip's first reference
        tail = im.crop((0, n - 1, im.width, n)).tobytes()
        rgb = to_rgb(im)
    out.paste(rgb.reduce(k) if k > 1 else rgb, (0, top))
    return tail


def _png_chunks(fh: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk up to IEND, CRC checked; IDAT data comes in pieces."""
    while True:
        head = fh.read(8)
        if len(head) < 8:
            raise ImageError("truncated or corrupt: PNG ends before IEND")
        length, kind = struct.unpack(">I4s", head)
        crc = zlib.crc32(kind)
        while True:  # a chunk may be as long as the whole image: read it in pieces
            data = fh.read(min(length, PIECE))
            if len(data) < min(length, PIECE):
                raise ImageError(f"truncated or corrupt: PNG {kind!r} chunk cut short")
            crc = zlib.crc32(data, crc)
            length -= len(data)
            if kind == b"IDAT" or not length:
                yield kind, data
            elif kind in PNG_KEEP + (b"eXIf", b"IHDR"):
                raise ImageError(f"truncated or corrupt: PNG {kind!r} chunk over {PIECE} bytes")
            if not length:
                break
        if fh.read(4) != struct.pack(">I", crc):
            raise ImageError(f"truncated or corrupt: PNG {kind!r} chunk fails its CRC")
        if kind == b"IEND":
            return


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

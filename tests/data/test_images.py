"""Every kind of file the dataset can hold decodes by content to RGB, or fails clearly."""

import os
import struct
import subprocess
import sys
import time
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fruitveg.data import images
from fruitveg.data.images import ImageError, decode, load_resized


def solid(mode: str, colour, size=(40, 30)) -> Image.Image:
    return Image.new(mode, size, colour)


def test_gif_named_jpg_decodes_first_frame(tmp_path: Path) -> None:
    frames = [solid("RGB", (255, 0, 0)).convert("P"), solid("RGB", (0, 0, 255)).convert("P")]
    path = tmp_path / "anim.jpg"
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])
    im = decode(path)
    assert im.mode == "RGB" and im.size == (40, 30)
    assert im.getpixel((5, 5))[0] > 200  # the red first frame


def test_mpo_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "stereo.jpg"
    left, right = solid("RGB", (10, 200, 10)), solid("RGB", (200, 10, 10))
    left.save(path, format="MPO", save_all=True, append_images=[right])
    with Image.open(path) as raw:
        assert raw.format == "MPO"
    im = decode(path)
    assert im.mode == "RGB" and im.getpixel((5, 5))[1] > 150


def test_jpeg_named_png(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    solid("RGB", (0, 128, 255)).save(path, format="JPEG")
    assert decode(path).mode == "RGB"


def test_rgba_flattens_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    solid("RGBA", (255, 0, 0, 0)).save(path)
    assert decode(path).getpixel((1, 1)) == (255, 255, 255)


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    im = solid("RGB", (0, 200, 0)).convert("P")
    im.info["transparency"] = 255  # an unused index: nothing actually transparent
    im.save(path, transparency=255)
    out = decode(path)
    assert out.mode == "RGB" and out.getpixel((1, 1))[1] > 150


def test_16bit_grayscale_png_scales_to_8bit(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    a = np.full((30, 40), 65535 // 2, dtype=np.uint16)
    Image.fromarray(a).save(path)
    with Image.open(path) as im:
        assert im.mode == "I;16"
    out = decode(path)
    assert out.mode == "RGB"
    assert 120 <= out.getpixel((1, 1))[0] <= 135  # mid-grey, not clipped to white


@pytest.mark.parametrize("mode,colour", [("L", 90), ("CMYK", (0, 255, 255, 0)), ("1", 1)])
def test_other_modes(tmp_path: Path, mode: str, colour) -> None:
    path = tmp_path / f"{mode}.jpg" if mode != "1" else tmp_path / "bits.png"
    solid(mode, colour).save(path)
    assert decode(path).mode == "RGB"


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty file"), (b"hello, not a picture\n", "not an image")],
)
def test_unreadable(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        decode(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = tmp_path / "good.jpg"
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(good)
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageError, match="truncated"):
        decode(bad)
    with pytest.raises(ImageError, match="truncated"):
        decode(bad, min_side=32)  # draft mode must not hide it


def test_large_photo_decodes_reduced(tmp_path: Path) -> None:
    path = tmp_path / "big photo.jpg"
    a = np.linspace(0, 255, 6000, dtype=np.uint8)[None, :, None].repeat(4000, 0).repeat(3, 2)
    Image.fromarray(a).save(path, quality=90)
    start = time.perf_counter()
    im = decode(path, min_side=256)
    draft_s = time.perf_counter() - start
    assert min(im.size) >= 256 and im.size[0] <= 6000 // 8 * 2  # scaled while decoding
    out = load_resized(path, 256)
    assert out.size == (256, 256) and out.mode == "RGB"
    assert draft_s < 5


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "pomme rouge é ünï 苹果.jpg"
    solid("RGB", (200, 0, 0)).save(path, format="JPEG")
    assert decode(path).size == (40, 30)


# -- pictures over MAX_FULL_PIXELS: reduced while decoding, memory bounded ---------------


@pytest.fixture
def tiny_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound of 1000 pixels and strips of a few rows: small files take the large path."""
    monkeypatch.setattr(images, "MAX_FULL_PIXELS", 1000)
    monkeypatch.setattr(images, "STRIP_BYTES", 5000)


def noisy(w: int = 300, h: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, w)[None, :, None] + rng.integers(0, 50, (h, w, 3))
    return ramp.astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "P+transparency"])
@pytest.mark.parametrize("min_side", [None, 50, 20])
def test_png_in_strips_equals_full_decode_reduced(
    tmp_path: Path, tiny_bound: None, mode: str, min_side: int | None
) -> None:
    a = noisy()
    im = Image.fromarray(a).convert(mode[0] if mode.startswith("P") else mode)
    if mode == "RGBA":
        im.putalpha(Image.fromarray(a[..., 0]))
    path = tmp_path / "picture.png"
    im.save(path, **({"transparency": 3} if mode == "P+transparency" else {}))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(images, "MAX_FULL_PIXELS", 1 << 24)
        full = decode(path)
    reduced = decode(path, min_side=min_side)
    k = 8 if min_side != 20 else 10  # the bound's factor, or what min_side allows
    assert reduced.size == (300 // k + (300 % k > 0), 200 // k + (200 % k > 0))
    assert np.array_equal(np.asarray(reduced), np.asarray(full.reduce(k)))


def test_png_in_strips_keeps_exif_orientation(tmp_path: Path, tiny_bound: None) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter
    path = tmp_path / "tagged.png"
    Image.fromarray(noisy()).save(path, exif=exif)
    assert decode(path).size == (25, 38)


def test_truncated_png_in_strips(tmp_path: Path, tiny_bound: None) -> None:
    path = tmp_path / "cut.png"
    Image.fromarray(noisy()).save(path)
    path.write_bytes(path.read_bytes()[:-2000])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        decode(path)


@pytest.mark.parametrize(
    "name,save",
    [
        ("tiff", lambda im, p: im.save(p, format="TIFF")),
        (
            "16-bit",
            lambda im, p: Image.fromarray(np.asarray(im.convert("L"), np.uint16)).save(p, "PNG"),
        ),
        ("interlaced", lambda im, p: p.write_bytes(interlaced(im))),
    ],
)
def test_large_pictures_that_cannot_be_reduced_are_refused(
    tmp_path: Path, tiny_bound: None, name: str, save
) -> None:
    path = tmp_path / "big.img"
    save(Image.fromarray(noisy()), path)
    with pytest.raises(ImageError, match=r"too large: 300x200 .*over 1000 pixels"):
        decode(path)


def test_large_jpeg_without_min_side_is_reduced(tmp_path: Path, tiny_bound: None) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(noisy()).save(path)
    assert decode(path).size == (38, 25)  # 1/8, the first scale within 1000 pixels


def interlaced(im: Image.Image) -> bytes:
    """A PNG whose header says interlaced (Pillow writes no interlaced PNG; it is refused
    from the header, so the data need not be)."""
    buf = BytesIO()
    im.save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[28] = 1  # IHDR's interlace method: signature 8, length and type 8, then 12 bytes
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def write_png(path: Path, w: int, h: int) -> None:
    """A w x h RGB PNG written row by row: pixel (x, y) is (x + y, -x - y, y) mod 256."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    x = np.arange(w)
    first = b"\x00" + np.stack([x % 256, -x % 256, 0 * x], axis=1).astype(np.uint8).tobytes()
    up = b"\x02" + bytes([1, 255, 1]) * w  # filter Up: each row one more than the row above
    z = zlib.compressobj(1)
    with open(path, "wb") as fh:
        fh.write(
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        )
        for y in range(h):
            if data := z.compress(up if y else first):
                fh.write(chunk(b"IDAT", data))
        fh.write(chunk(b"IDAT", z.flush()) + chunk(b"IEND", b""))


PEAK = """
import resource, sys
from fruitveg.audit.hashing import HASH_SIDE
from fruitveg.data.images import decode, load_resized
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sizes = [decode(sys.argv[1], min_side=HASH_SIDE).size, load_resized(sys.argv[1], 64).size]
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown * 1024)
print(*sizes)
"""


def test_huge_png_decodes_in_bounded_memory(tmp_path: Path) -> None:
    """The 10000 x 9500 PNG that took 1.2 GB per worker: decoded by strips, reduced."""
    path = tmp_path / "huge.png"
    write_png(path, 10_000, 9_500)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    grown, sizes = done.stdout.splitlines()
    full_size = 10_000 * 9_500 * 4  # how Pillow holds one RGB copy
    assert int(grown) < full_size / 4, f"peak grew by {int(grown) / 2**20:.0f} MiB"
    assert sizes == "(271, 257) (64, 64)"  # shrunk 37 times (min side 256), then to 64 px

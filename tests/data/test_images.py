"""Every kind of file the dataset can hold decodes by content to RGB, or fails clearly."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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

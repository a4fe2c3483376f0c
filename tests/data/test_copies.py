"""The copies web collections hold (fruitveg.download.copies), planted and derived.

Each kind is checked against what it promises, on the generator's pictures and on real
photographs that ship inside scikit-image (no download), in the modes real files come in.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image
from skimage.feature import match_template

from fruitveg.data.images import decode, to_rgb
from fruitveg.download import copies, synthetic

PIXEL_KINDS = tuple(k for k in copies.KINDS if k != "exif")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
WHITE = (255, 255, 255)
T = Image.Transpose


@cache
def photo(name: str) -> Image.Image:
    """A real photograph, at most 320 px a side (it keeps the tests quick)."""
    im = Image.fromarray(getattr(skimage.data, name)())
    im.thumbnail((320, 320), Image.Resampling.LANCZOS)
    return im


def grey(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"), dtype=np.float64)


def found(big: Image.Image, small: Image.Image) -> tuple[float, tuple[int, int]]:
    """How well `small` matches a window of `big` (normalised correlation) and where."""
    scores = match_template(grey(big), grey(small))
    y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores.max()), (int(x), int(y))


def changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.any(np.asarray(a) != np.asarray(b), axis=-1)


def box_share(mask: np.ndarray) -> float:
    """The share of the picture that the box around `mask`'s pixels covers."""
    ys, xs = np.nonzero(mask)
    return (np.ptp(ys) + 1) * (np.ptp(xs) + 1) / mask.size


def turned_by(original: Image.Image, copy: Image.Image) -> float:
    """The angle that turns `original` into `copy` best: the copy is the middle of the
    original turned and expanded. Searched at 256 px, by half degrees then tenths."""
    scale = 256 / max(original.size)
    o = original.resize((round(original.width * scale), round(original.height * scale)))
    c = grey(copy.resize((round(copy.width * scale), round(copy.height * scale))))
    ch, cw = c.shape
    centre = c[ch // 5 : ch * 4 // 5, cw // 5 : cw * 4 // 5]

    def error(angle: float) -> float:
        r = grey(o.rotate(float(angle), Image.Resampling.BICUBIC, expand=True, fillcolor=WHITE))
        top, left = (r.shape[0] - centre.shape[0]) // 2, (r.shape[1] - centre.shape[1]) // 2
        return float(
            np.abs(r[top : top + len(centre), left : left + centre.shape[1]] - centre).mean()
        )

    coarse = min(np.arange(-12, 12.01, 0.5), key=error)
    return float(min(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=error))


def check(kind: str, o: Image.Image, c: Image.Image, s: float | None) -> None:
    """`c` differs from `o` as `kind` promises (exactly: pictures, not JPEG files)."""
    assert c.mode == "RGB"
    (w, h), (cw, ch) = o.size, c.size
    if kind in copies.STRENGTHS:
        lo, hi = copies.STRENGTHS[kind]
        assert s is not None and lo <= s <= hi
    else:
        assert s is None
    if kind == "resized":
        assert c.size == (w * 9 // 10, h * 9 // 10)
    elif kind == "reencoded":
        assert c.size == o.size and 0 < np.abs(grey(c) - grey(o)).mean() < 8
    elif kind == "cropped":  # 2-5 px off every edge
        assert 4 <= w - cw <= 10 and abs(ch / cw - h / w) < 0.05 and found(o, c)[0] > 0.99
    elif kind in ("rotated", "mirrored"):
        turns = (T.ROTATE_90, T.ROTATE_180, T.ROTATE_270)
        flips = (T.FLIP_LEFT_RIGHT, T.FLIP_TOP_BOTTOM, T.TRANSPOSE, T.TRANSVERSE)
        ways = turns if kind == "rotated" else flips
        assert any(np.array_equal(np.asarray(o.transpose(t)), np.asarray(c)) for t in ways)
    elif kind in ("crop", "mirror_crop"):
        assert s is not None
        source = o.transpose(T.FLIP_LEFT_RIGHT) if kind == "mirror_crop" else o
        cuts = sorted((1 - cw / w, 1 - ch / h))
        slack = 2 / min(w, h)  # each side is rounded to whole pixels
        assert abs(cuts[1] - s) <= slack and cuts[0] <= s + slack
        score, _ = found(source, c)
        assert score > 0.99
        if kind == "mirror_crop":  # it is the mirror image that matches, not the original
            assert found(o, c)[0] < score - 0.05
    elif kind == "pad":
        assert s is not None and cw >= w and ch >= h
        assert abs(max((cw - w) / w, (ch - h) / h) - s) <= 1 / min(w, h)
        assert abs((cw / ch) / (w / h) - 1) > 0.03  # another aspect ratio
        score, (x, y) = found(c, o)
        assert score > 0.99
        outside = np.ones((ch, cw), dtype=bool)
        outside[y : y + h, x : x + w] = False
        border = np.asarray(c)[outside]
        assert (border == border[0]).all()  # one colour: white, near-white or black
        assert border[0].min() >= 228 or border[0].max() == 0
    elif kind == "turn":
        assert s is not None
        angle = turned_by(o, c)
        # within 0.75 degrees: blurred synthetic shapes pin the angle less than photos do
        assert 1.25 <= abs(angle) <= 10.75 and abs(abs(angle) - s) <= 0.75, (angle, s)
    elif kind == "recolour":  # colour moved, geometry kept
        assert c.size == o.size
        a, b = np.asarray(o).reshape(-1, 3), np.asarray(c).reshape(-1, 3)
        # A colour map, pixel by pixel: equal colours in the original stay equal in the copy.
        a_keys = a.astype(np.int64) @ [1 << 16, 1 << 8, 1]
        b_keys = b.astype(np.int64) @ [1 << 16, 1 << 8, 1]
        assert len(np.unique(a_keys)) == len(np.unique(a_keys << 24 | b_keys))
        assert np.abs(a.astype(np.float64) - b).mean() > 2
        hue_o = np.asarray(o.convert("HSV"), dtype=np.int16)
        hue_c = np.asarray(c.convert("HSV"), dtype=np.int16)
        coloured = (hue_o[..., 1] > 60) & (hue_c[..., 1] > 60)
        shift = (hue_c[..., 0] - hue_o[..., 0] + 128) % 256 - 128
        assert abs(np.median(shift[coloured])) >= 2  # at least 3 degrees of hue
    else:  # watermark, edit: a local change, the rest of the picture untouched
        assert c.size == o.size
        mask = changed(o, c)
        assert mask.mean() > 0.001
        if kind == "watermark":
            assert box_share(mask) < 0.5
        else:
            assert s is not None and s / 4 < mask.mean() and box_share(mask) < 2.2 * s


# -- on the generator's pictures, planted as the download stage does -----------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_is_planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    monkeypatch.setattr(synthetic, "KAGGLE_CLASSES", ("apple", "corn"))
    counts = {"train": 1, "validation": 1, "test": 2}
    leaks = synthetic.generate(tmp_path, counts, seed, leaks=len(copies.KINDS) + 1)
    assert [leak.kind for leak in leaks] == [*copies.KINDS, "resized"]
    for k, leak in enumerate(leaks):
        assert leak.copy.parent.parent.name == "train"
        assert leak.original.parent.parent.name == "test"
        assert leak.copy.parent.name == leak.original.parent.name  # the same class
        assert leak.copy.read_bytes() != leak.original.read_bytes()
        with Image.open(leak.copy) as im:
            assert im.format == "JPEG"
            orientation = im.getexif().get(copies.ORIENTATION, 1)
            dc = im.quantization[0][0]  # libjpeg's table: 6 at quality 80 down to 2 at 95
        if leak.kind in copies.STRENGTHS:
            assert 2 <= dc <= 6
        original, copy = decode(leak.original), decode(leak.copy)
        if leak.kind == "exif":  # the very pixels, only tagged to be shown turned
            with Image.open(leak.copy) as stored:
                assert np.array_equal(np.asarray(stored), np.asarray(original))
            assert orientation != 1 and leak.strength is None
            continue
        assert orientation == 1
        # The file is the changed picture, saved once as a JPEG of quality 80 or more.
        rng = np.random.default_rng([seed, 999, k])
        expected = copies.transform(original, leak.kind, rng)
        check(leak.kind, original, expected, leak.strength)
        assert copy.size == expected.size
        assert np.abs(grey(copy) - grey(expected)).mean() < (0.01 if k == 1 else 3)


# -- on real photographs ------------------------------------------------------------------


@pytest.mark.parametrize("kind", PIXEL_KINDS)
@pytest.mark.parametrize("name", PHOTOS)
def test_kinds_on_real_photos(name: str, kind: str) -> None:
    o = photo(name)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        s = float(rng.uniform(*copies.STRENGTHS[kind])) if kind in copies.STRENGTHS else None
        c = copies.transform(o, kind, np.random.default_rng(seed), s)
        check(kind, o, c, s)


@pytest.mark.parametrize("kind", ["crop", "mirror_crop", "pad", "turn", "edit"])
def test_strengths_at_both_ends(kind: str) -> None:
    """The benchmark's strengths (crop 5 and 40 %, padding 10 and 25 %, turns of 2 and 10
    degrees, ...) come out as asked."""
    for s in copies.STRENGTHS[kind]:
        for seed in range(3):
            c = copies.transform(photo("coffee"), kind, np.random.default_rng(seed), s)
            check(kind, photo("coffee"), c, s)


def modes() -> dict[str, Image.Image]:
    """Real photos as real files come: CMYK, palette, 16-bit, grey, with transparency."""
    sixteen = (skimage.data.camera().astype(np.uint16) * 257)[::2, ::2]
    return {
        "CMYK": photo("coffee").convert("CMYK"),
        "P": photo("chelsea").quantize(64),
        "I;16": Image.fromarray(np.ascontiguousarray(sixteen)),
        "L": photo("rocket").convert("L"),
        "RGBA": Image.fromarray(skimage.data.logo()),  # a real transparent logo
    }


@pytest.mark.parametrize("mode", ["CMYK", "P", "I;16", "L", "RGBA"])
def test_any_mode_is_converted_as_the_pipeline_decodes(mode: str) -> None:
    im = modes()[mode]
    assert im.mode == mode
    for kind in PIXEL_KINDS:
        c = copies.transform(im, kind, np.random.default_rng(4))
        same = copies.transform(to_rgb(im), kind, np.random.default_rng(4))
        assert c.mode == "RGB" and np.array_equal(np.asarray(c), np.asarray(same)), kind
    if mode == "I;16":  # scaled from 16 bits, not clipped to white
        assert 40 < grey(copies.transform(im, "recolour", np.random.default_rng(0))).mean() < 220


# -- determinism and errors -----------------------------------------------------------------


def test_same_rng_same_bytes(tmp_path: Path) -> None:
    original = tmp_path / "original.jpg"
    photo("chelsea").save(original, quality=90)
    for kind in copies.KINDS:
        files = []
        for n, seed in enumerate((7, 7, 8)):
            files.append(tmp_path / f"{kind}-{n}.jpg")
            copies.plant(original, files[-1], kind, np.random.default_rng(seed))
        assert files[0].read_bytes() == files[1].read_bytes(), kind
        if kind in copies.STRENGTHS:  # another draw, another copy
            assert files[0].read_bytes() != files[2].read_bytes(), kind


def test_bad_requests_say_what_is_wrong(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    im = photo("coffee")
    with pytest.raises(ValueError, match="unknown copy kind 'blur'"):
        copies.transform(im, "blur", rng)
    with pytest.raises(ValueError, match="'exif' copy changes only the file's tag"):
        copies.transform(im, "exif", rng)
    with pytest.raises(ValueError, match="copy kind 'rotated' takes no strength"):
        copies.transform(im, "rotated", rng, 0.5)
    with pytest.raises(ValueError, match="crop strength must be above 0 and at most 0.9"):
        copies.transform(im, "crop", rng, 0.95)
    png = tmp_path / "photo.png"
    im.save(png)
    with pytest.raises(ValueError, match=f"{png}: an 'exif' copy needs a JPEG original"):
        copies.plant(png, tmp_path / "copy.jpg", "exif", rng)


# -- white-background negatives ------------------------------------------------------------


@pytest.mark.parametrize("cls", ["apple", "bell pepper", "capsicum", "corn", "grapes"])
def test_product_shots_are_objects_on_white(cls: str) -> None:
    shots = [synthetic.product_shot(cls, np.random.default_rng(seed)) for seed in range(3)]
    for shot in shots:
        a = np.asarray(shot)
        assert shot.size == (320, 320) and shot.mode == "RGB"
        for corner in (a[:12, :12], a[:12, -12:], a[-12:, :12], a[-12:, -12:]):
            assert (corner >= 245).all()  # plain white but for a camera's grain
        assert 0.03 < (a < 235).any(axis=-1).mean() < 0.8  # an object, not a blank
    assert len({shot.tobytes() for shot in shots}) == 3  # different photos
    again = synthetic.product_shot(cls, np.random.default_rng(0))
    assert again.tobytes() == shots[0].tobytes()
    with pytest.raises(ValueError, match="no look for class 'kumquat'"):
        synthetic.product_shot("kumquat", np.random.default_rng(0))

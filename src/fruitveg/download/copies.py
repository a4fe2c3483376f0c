"""The copies web collections hold: every way a planted copy differs from its original.

One place for each kind, used by the synthetic generator to plant leaks and by tests and
benchmarks to derive copies of any photo. KINDS is the order the generator cycles through.
The first six are the kinds planted before the web kinds existed; they keep their draws,
so a seed plants byte-identical files for them. The web kinds are those measured in real
web-scraped fruit photos (issue 20): crops of up to 40 % of a side, padding to another
aspect ratio, mirror plus crop, small turns, recolouring, watermarks and small edits.

`transform` changes the pixels (any Pillow mode in, converted as the pipeline decodes);
`plant` writes the copy file, and handles "exif", which changes only the file's tag.
Each web kind has a strength, drawn from STRENGTHS[kind] unless given.
"""

import math
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from fruitveg.data.images import decode, to_rgb

KINDS: tuple[str, ...] = (
    "resized",  # 90 % of each side
    "reencoded",  # JPEG quality 50-69
    "cropped",  # 2-5 px off every edge, the aspect ratio kept
    "exif",  # the same stored pixels, tagged to be shown turned or mirrored
    "rotated",  # a quarter, half or three-quarter turn
    "mirrored",  # left-right, top-bottom or about either diagonal
    "crop",  # 5-40 % of a side off one or more sides
    "pad",  # white, near-white or black borders to another aspect ratio
    "mirror_crop",  # left-right mirror plus a crop
    "turn",  # a turn of a few degrees, filled with white or cropped to the inner rectangle
    "recolour",  # hue, saturation, brightness and contrast
    "watermark",  # semi-transparent text or a logo
    "edit",  # a patch painted over or cloned from elsewhere in the picture
)
STRENGTHS: dict[str, tuple[float, float]] = {
    "crop": (0.05, 0.40),  # the fraction of the side removed on the most-cropped axis
    "pad": (0.10, 0.25),  # the padding added, as a fraction of the padded side
    "mirror_crop": (0.05, 0.25),  # as crop
    "turn": (2.0, 10.0),  # degrees, either way
    "recolour": (0.3, 1.0),  # 1: hue +-34 deg, saturation x(1+-0.5), brightness and
    # contrast x(1+-0.3) and x(1+-0.4); each component is 50-100 % of that, either way
    "watermark": (0.2, 1.0),  # opacity 35-75 %, text height 6-20 % of the short side
    "edit": (0.05, 0.15),  # the patch's share of the picture's area
}
# A strength given by hand may go past the drawn range, up to these.
LIMITS: dict[str, float] = {
    "crop": 0.9, "pad": 2.0, "mirror_crop": 0.9, "turn": 45.0, "recolour": 1.0,
    "watermark": 1.0, "edit": 0.5,
}  # fmt: skip
ORIENTATION = 0x0112  # the EXIF tag
WHITE = (255, 255, 255)
# JPEG quality of each older kind's copy, as it always was; the web kinds draw 80-95.
_QUALITY = {"resized": 85, "cropped": 90, "rotated": 90, "mirrored": 90}
_WORDS = ("© freshmarket.com", "SAMPLE", "www.veggie-pics.net", "© Green Grocer", "stock photo")
T = Image.Transpose


def transform(
    im: Image.Image, kind: str, rng: np.random.Generator, strength: float | None = None
) -> Image.Image:
    """A copy of `im` changed as `kind` says; the same rng state gives the same picture.

    Any mode is first converted to 8-bit RGB as the pipeline decodes (CMYK, palette,
    16-bit, transparency flattened onto white). "reencoded" is a JPEG round trip.
    """
    return _transform(im, kind, rng, strength)[0]


def plant(
    original: Path, copy: Path, kind: str, rng: np.random.Generator, strength: float | None = None
) -> float | None:
    """Write `copy`, a JPEG changed from `original` as `kind` says; returns the strength
    used (None for the kinds without one)."""
    if kind == "exif":  # the very same stored pixels, tagged to be shown turned
        _check(kind, strength)
        jpeg = Path(original).read_bytes()
        if jpeg[:2] != b"\xff\xd8":
            raise ValueError(f"{original}: an 'exif' copy needs a JPEG original")
        exif = Image.Exif()
        exif[ORIENTATION] = int(rng.integers(2, 9))  # 1 is upright; 2-8 turn and/or mirror
        app1 = exif.tobytes()  # "Exif\0\0" and the TIFF block: the APP1 segment's payload
        segment = b"\xff\xe1" + (len(app1) + 2).to_bytes(2) + app1
        Path(copy).write_bytes(jpeg[:2] + segment + jpeg[2:])  # right after the JPEG's SOI
        return None
    im = decode(original)
    if kind == "reencoded":  # saved once, at the drawn quality
        _check(kind, strength)
        im.save(copy, quality=_reencode_quality(rng))
        return None
    out, used = _transform(im, kind, rng, strength)
    out.save(copy, quality=_QUALITY[kind] if kind in _QUALITY else int(rng.integers(80, 96)))
    return used


def on_white(
    objects: Sequence[Image.Image], rng: np.random.Generator, size: tuple[int, int] = (320, 320),
    shadow: bool | None = None,
) -> Image.Image:  # fmt: skip
    """Cut-outs (RGBA; their alpha is the outline) side by side, centred-ish on plain
    white, as web product shots are; a soft shadow under each (drawn with chance 1/2
    unless `shadow` says)."""
    if not objects:
        raise ValueError("on_white needs at least one object")
    w, h = size
    canvas = Image.new("RGB", size, WHITE)
    if shadow is None:
        shadow = bool(rng.random() < 0.5)
    slot = w / len(objects)
    for i, obj in enumerate(objects):
        obj = obj.convert("RGBA")
        obj = obj.crop(obj.getchannel("A").getbbox() or (0, 0, *obj.size))
        scale = min(slot * 0.85 / obj.width, h * 0.8 / obj.height) * rng.uniform(0.8, 1.0)
        obj = obj.resize(
            (max(1, round(obj.width * scale)), max(1, round(obj.height * scale))),
            Image.Resampling.LANCZOS,
        )
        x = round(slot * (i + 0.5) + rng.normal(0, w * 0.03) - obj.width / 2)
        y = round(h / 2 + rng.normal(0, h * 0.03) - obj.height / 2)
        if shadow:  # the outline, blurred and faint, a little below and to one side
            blur = max(2, obj.width // 20)
            mask = Image.new("L", (obj.width + 4 * blur, obj.height + 4 * blur), 0)
            mask.paste(obj.getchannel("A").point(lambda a: a * 2 // 5), (2 * blur, 2 * blur))
            mask = mask.filter(ImageFilter.GaussianBlur(blur))
            dx, dy = int(rng.integers(-blur, blur + 1)), int(rng.integers(blur, 2 * blur + 1))
            canvas.paste((90, 90, 90), (x - 2 * blur + dx, y - 2 * blur + dy), mask)
        canvas.paste(obj, (x, y), obj)
    return canvas


# -- the kinds --------------------------------------------------------------------------


def _check(kind: str, strength: float | None) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown copy kind {kind!r} (kinds: {', '.join(KINDS)})")
    if strength is None:
        return
    if kind not in STRENGTHS:
        raise ValueError(f"copy kind {kind!r} takes no strength, got {strength!r}")
    if not 0 < strength <= LIMITS[kind]:
        raise ValueError(
            f"{kind} strength must be above 0 and at most {LIMITS[kind]:g}, got {strength!r}"
        )


def _transform(
    im: Image.Image, kind: str, rng: np.random.Generator, strength: float | None
) -> tuple[Image.Image, float | None]:
    _check(kind, strength)
    if kind == "exif":
        raise ValueError("an 'exif' copy changes only the file's tag, not its pixels: use plant")
    im = to_rgb(im)
    w, h = im.size
    if kind == "resized":
        return im.resize((w * 9 // 10, h * 9 // 10), Image.Resampling.BICUBIC), None
    if kind == "reencoded":
        buffer = BytesIO()
        im.save(buffer, "JPEG", quality=_reencode_quality(rng))
        return Image.open(buffer).convert("RGB"), None
    if kind == "cropped":
        dx = int(rng.integers(2, 6))
        dy = round(dx * h / w)
        return im.crop((dx, dy, w - dx, h - dy)), None
    if kind == "rotated":
        return im.transpose((T.ROTATE_90, T.ROTATE_180, T.ROTATE_270)[int(rng.integers(3))]), None
    if kind == "mirrored":
        flip = (T.FLIP_LEFT_RIGHT, T.FLIP_TOP_BOTTOM, T.TRANSPOSE, T.TRANSVERSE)
        return im.transpose(flip[int(rng.integers(4))]), None
    s = float(rng.uniform(*STRENGTHS[kind])) if strength is None else float(strength)
    if kind == "crop":
        return _crop(im, s, rng), s
    if kind == "mirror_crop":
        return _crop(im.transpose(T.FLIP_LEFT_RIGHT), s, rng), s
    web = {"pad": _pad, "turn": _turn, "recolour": _recolour, "watermark": _watermark}
    return web.get(kind, _edit)(im, s, rng), s


def _reencode_quality(rng: np.random.Generator) -> int:
    return int(rng.integers(50, 70))


def _crop(im: Image.Image, s: float, rng: np.random.Generator) -> Image.Image:
    """`s` of the side off one axis (one side or both), up to as much off the other."""
    w, h = im.size
    cut = [0.0, 0.0, 0.0, 0.0]  # fractions off the left, top, right and bottom
    axis = int(rng.integers(2))  # the most-cropped one: 0 across, 1 down
    plans = ((axis, s, int(rng.integers(3))), (1 - axis, s * rng.random(), int(rng.integers(4))))
    for ax, total, sides in plans:  # sides: 0 the first, 1 the second, 2 both, 3 neither
        if sides == 3:  # the other axis kept whole
            continue
        first = (1.0, 0.0, rng.uniform(0.2, 0.8))[sides]  # the first side's share
        cut[ax] += total * first
        cut[ax + 2] += total * (1 - first)
    box = (round(w * cut[0]), round(h * cut[1]), w - round(w * cut[2]), h - round(h * cut[3]))
    return im.crop(box)


def _pad(im: Image.Image, s: float, rng: np.random.Generator) -> Image.Image:
    """Borders adding `s` of one side (centred, or anywhere), with chance 1/2 a smaller
    centred one on the other axis: the aspect ratio changes either way."""
    w, h = im.size
    pick = rng.random()
    if pick < 0.6:
        colour = WHITE
    elif pick < 0.8:  # near-white, faintly tinted
        grey = int(rng.integers(232, 251))
        colour = tuple(int(min(255, grey + d)) for d in rng.integers(-4, 5, 3))
    else:
        colour = (0, 0, 0)
    axis = int(rng.integers(2))
    add = [0, 0]
    add[axis] = max(1, round(s * im.size[axis]))
    centred = rng.random() < 0.5
    if rng.random() < 0.5:
        add[1 - axis] = round(rng.uniform(0, s / 2) * im.size[1 - axis])
    first = [add[0] // 2, add[1] // 2]
    if not centred:
        first[axis] = int(rng.integers(0, add[axis] + 1))
    canvas = Image.new("RGB", (w + add[0], h + add[1]), colour)  # type: ignore[arg-type]
    canvas.paste(im, (first[0], first[1]))
    return canvas


def _turn(im: Image.Image, degrees: float, rng: np.random.Generator) -> Image.Image:
    """Turned by `degrees` either way; the corners filled with white, or cropped away."""
    angle = degrees if rng.random() < 0.5 else -degrees
    if rng.random() < 0.5:
        return im.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=WHITE)
    turned = im.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    iw, ih = _inner(*im.size, math.radians(angle))
    cx, cy = turned.width / 2, turned.height / 2
    # One pixel in from the exact edge: the interpolation blends in the black corners there.
    box = (math.ceil(cx - iw / 2) + 1, math.ceil(cy - ih / 2) + 1,
           math.floor(cx + iw / 2) - 1, math.floor(cy + ih / 2) - 1)  # fmt: skip
    return turned.crop(box)


def _inner(w: int, h: int, angle: float) -> tuple[float, float]:
    """The largest upright rectangle inside a w x h rectangle turned by `angle` radians."""
    long, short = max(w, h), min(w, h)
    sin, cos = abs(math.sin(angle)), abs(math.cos(angle))
    if short <= 2 * sin * cos * long or abs(sin - cos) < 1e-10:  # half-constrained
        x = short / 2
        return (x / sin, x / cos) if w >= h else (x / cos, x / sin)
    cos2 = cos * cos - sin * sin
    return (w * cos - h * sin) / cos2, (h * cos - w * sin) / cos2


def _recolour(im: Image.Image, s: float, rng: np.random.Generator) -> Image.Image:
    """Hue, saturation, brightness and contrast, each moved up to `s` of its most, either way."""

    def amount(most: float) -> float:
        sign = 1 if rng.random() < 0.5 else -1
        return sign * s * most * rng.uniform(0.5, 1.0)

    hsv = np.array(im.convert("HSV"))
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(amount(24))) % 256  # 24/256: 34 deg
    out = Image.fromarray(hsv, "HSV").convert("RGB")
    for enhancer, most in (
        (ImageEnhance.Color, 0.5), (ImageEnhance.Brightness, 0.3), (ImageEnhance.Contrast, 0.4)
    ):  # fmt: skip
        out = enhancer(out).enhance(1 + amount(most))
    return out


def _watermark(im: Image.Image, s: float, rng: np.random.Generator) -> Image.Image:
    """Semi-transparent text, or a ringed initial as a logo, in a corner or the middle."""
    w, h = im.size
    ink = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    opacity = round(255 * (0.25 + 0.5 * s))
    height = max(8, round(min(w, h) * (0.06 + 0.14 * s)))
    logo = rng.random() < 0.3
    text = _WORDS[int(rng.integers(len(_WORDS)))]
    if logo:
        text = text.strip("© w.")[0].upper()
    font = ImageFont.load_default(size=height)
    x0, y0, x1, y1 = font.getbbox(text)
    if x1 - x0 > 0.9 * w:  # too wide: a smaller font
        font = ImageFont.load_default(size=max(6, int(height * 0.9 * w / (x1 - x0))))
        x0, y0, x1, y1 = font.getbbox(text)
    tw, th = x1 - x0, y1 - y0
    pad = round(height * 0.6) if logo else 0  # the ring around the initial
    bw, bh = tw + 2 * pad, th + 2 * pad
    margin = round(min(w, h) * 0.04)
    where = int(rng.integers(5))  # the four corners, then the middle
    x = (margin, w - bw - margin, margin, w - bw - margin, (w - bw) // 2)[where]
    y = (margin, margin, h - bh - margin, h - bh - margin, (h - bh) // 2)[where]
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if logo:
        draw.ellipse((x, y, x + bw, y + bh), outline=(*ink, opacity), width=max(2, height // 8))
    draw.text((x + pad - x0, y + pad - y0), text, font=font, fill=(*ink, opacity))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def _edit(im: Image.Image, s: float, rng: np.random.Generator) -> Image.Image:
    """A patch of `s` of the area, soft-edged: painted over with the colour around it (a
    thing removed) or cloned from another place in the picture."""
    w, h = im.size
    oval = rng.random() < 0.5
    area = s * w * h * (4 / math.pi if oval else 1.0)  # the box an oval of that area fills
    aspect = rng.uniform(0.6, 1.6)
    pw = min(w - 2, max(2, round(math.sqrt(area * aspect))))
    ph = min(h - 2, max(2, round(area / pw)))
    x, y = int(rng.integers(1, w - pw)), int(rng.integers(1, h - ph))
    mask = Image.new("L", im.size, 0)
    box = (x, y, x + pw - 1, y + ph - 1)
    (ImageDraw.Draw(mask).ellipse if oval else ImageDraw.Draw(mask).rectangle)(box, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, min(pw, ph) / 30)))
    if rng.random() < 0.5:  # cloned: the same-sized piece from elsewhere
        sx, sy = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
        patch = im.copy()
        patch.paste(im.crop((sx, sy, sx + pw, sy + ph)), (x, y))
    else:  # painted over: the median colour of a band just around the patch
        band = max(2, min(pw, ph) // 6)
        top, left = max(0, y - band), max(0, x - band)
        around = np.asarray(im)[top : y + ph + band, left : x + pw + band]
        outside = np.ones(around.shape[:2], bool)
        outside[y - top : y - top + ph, x - left : x - left + pw] = False
        colour = np.median(around[outside], axis=0).astype(np.uint8)
        patch = Image.new("RGB", im.size, tuple(int(v) for v in colour))  # type: ignore[arg-type]
    return Image.composite(patch, im, mask)

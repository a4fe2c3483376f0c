"""A generated stand-in for the Kaggle dataset, for offline runs and tests.

Same layout and class names as the real archive; JPEG photos of varied sizes with a
class-dependent shape, colour and texture on a cluttered background, under random
position, scale, rotation and lighting. The real data's confusable groups (corn and
sweetcorn; bell pepper, capsicum and paprika; chilli pepper and jalepeno; potato and
sweetpotato; onion and garlic) share shape and texture and differ only in overlapping
colour and proportion distributions, so they stay genuinely hard to tell apart.
Everything derives from one seed: the same settings give byte-identical files.

`Difficulty` makes the data harder, trait by trait (TRAITS); level 0 writes exactly the
files the generator wrote before it existed. Each trait draws from its own random stream,
spawned from the picture's, so a harder level changes the same pictures rather than
drawing new ones, and turning one trait up leaves the others' draws as they were.
"""

from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.parallel import pmap
from fruitveg.download import copies

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    shape: str  # round | oval | long | crescent | cluster | leafy | pepper | cone | bulb
    colours: tuple[RGB, ...]  # one is drawn per image (weights below)
    texture: str = "smooth"  # smooth | stripes | speckle | grid | florets
    aspect: float = 1.0  # length / width of the body
    weights: tuple[float, ...] | None = None
    leaves: float = 0.0  # chance of a green top
    count: tuple[int, int] = (1, 3)  # objects per picture


RED, GREEN, YELLOW, ORANGE = (200, 30, 30), (60, 140, 40), (235, 200, 40), (235, 120, 20)
BROWN, CREAM, PURPLE, WHITE = (150, 100, 60), (235, 225, 195), (120, 50, 110), (240, 240, 235)
PEPPERS = (RED, GREEN, YELLOW, ORANGE)

LOOKS: dict[str, Look] = {
    "apple": Look("round", (RED, (170, 200, 60), (200, 60, 40)), leaves=0.3),
    "banana": Look("crescent", (YELLOW, (200, 210, 70)), aspect=3.5),
    "beetroot": Look("round", ((110, 20, 50), (90, 30, 60)), leaves=0.6),
    "bell pepper": Look("pepper", PEPPERS, weights=(0.4, 0.2, 0.3, 0.1), aspect=1.0),
    "cabbage": Look("leafy", ((140, 190, 110), (110, 60, 120)), count=(1, 1)),
    "capsicum": Look("pepper", PEPPERS, weights=(0.3, 0.4, 0.2, 0.1), aspect=1.1),
    "carrot": Look("cone", (ORANGE, (230, 100, 30)), aspect=4.0, leaves=0.5),
    "cauliflower": Look("round", (CREAM, WHITE), texture="florets", count=(1, 1)),
    "chilli pepper": Look("long", (RED, GREEN), weights=(0.7, 0.3), aspect=6.0),
    "corn": Look("long", ((240, 210, 70), (225, 190, 60)), texture="grid", aspect=3.2),
    "cucumber": Look("long", ((40, 100, 40), (70, 130, 50)), texture="speckle", aspect=3.5),
    "eggplant": Look("oval", ((70, 30, 80), PURPLE), aspect=2.2),
    "garlic": Look("bulb", (CREAM, WHITE, (220, 200, 210)), weights=(0.45, 0.4, 0.15)),
    "ginger": Look("cone", ((200, 160, 100), (180, 140, 80)), texture="speckle", aspect=2.0),
    "grapes": Look("cluster", ((90, 40, 90), (150, 190, 70)), count=(1, 2)),
    "jalepeno": Look("long", (GREEN, RED), weights=(0.7, 0.3), aspect=4.5),
    "kiwi": Look("oval", ((130, 100, 60), (120, 160, 50)), texture="speckle", aspect=1.3),
    "lemon": Look("oval", (YELLOW, (245, 225, 60)), aspect=1.35),
    "lettuce": Look("leafy", ((150, 210, 90), (120, 190, 70)), count=(1, 1)),
    "mango": Look("oval", (ORANGE, YELLOW, (200, 160, 40)), aspect=1.5),
    "onion": Look("bulb", (PURPLE, BROWN, CREAM), weights=(0.4, 0.35, 0.25)),
    "orange": Look("round", (ORANGE, (245, 150, 30)), texture="speckle"),
    "paprika": Look("pepper", PEPPERS, weights=(0.5, 0.1, 0.2, 0.2), aspect=1.3),
    "pear": Look("bulb", ((180, 200, 70), (210, 190, 80)), aspect=1.4),
    "peas": Look("cluster", ((110, 180, 60), (90, 160, 50)), count=(1, 3)),
    "pineapple": Look("oval", ((200, 150, 50), (170, 140, 60)), texture="grid", leaves=1.0),
    "pomegranate": Look("round", ((170, 30, 40), (140, 20, 40)), texture="speckle"),
    "potato": Look("oval", (BROWN, (190, 160, 110)), weights=(0.6, 0.4), aspect=1.4),
    "raddish": Look("round", ((210, 40, 90), (230, 60, 110)), leaves=0.7),
    "soy beans": Look("cluster", ((220, 200, 140), (200, 180, 120)), count=(1, 2)),
    "spinach": Look("leafy", ((40, 110, 40), (50, 130, 50)), count=(1, 2)),
    "sweetcorn": Look("long", ((245, 215, 80), (230, 200, 70)), texture="grid", aspect=2.8),
    "sweetpotato": Look("oval", ((160, 80, 60), BROWN), weights=(0.6, 0.4), aspect=1.9),
    "tomato": Look("round", (RED, (220, 60, 30)), leaves=0.3),
    "turnip": Look("round", ((235, 225, 230), (200, 120, 170)), leaves=0.6),
    "watermelon": Look("round", ((40, 120, 40), (60, 140, 60)), texture="stripes", count=(1, 1)),
}
assert set(LOOKS) == set(KAGGLE_CLASSES)

# Classes of the real data that look alike; `Difficulty.overlap` pulls them together.
CONFUSABLE: tuple[tuple[str, ...], ...] = (
    ("corn", "sweetcorn"),
    ("bell pepper", "capsicum", "paprika"),
    ("chilli pepper", "jalepeno"),
    ("potato", "sweetpotato"),
    ("onion", "garlic"),
)
MATES = {cls: tuple(m for m in group if m != cls) for group in CONFUSABLE for cls in group}

# The study's fruits (params.yaml classes.fruit). In real photos a CNN learns the grouping
# (the study's binary model: 88.9 %); here the looks alone carry none of it, and binary
# models learned nothing (40 epochs: 95 % train, 68 % validation, under the 72 % majority).
# `fruit_cue` gives the groups a shared, imperfect trait: a glossy highlight.
FRUITS = frozenset(
    ("apple", "banana", "grapes", "kiwi", "mango", "orange", "pear", "pineapple",
     "pomegranate", "watermelon")
)  # fmt: skip

MAX_DIFFICULTY = 5.0  # the level at which every trait is at full strength
TRAITS = ("clutter", "occlusion", "lighting", "scale", "overlap", "scarcity", "label_noise")


@dataclass(frozen=True)
class Difficulty:
    """How far each trait is turned up, from 0 (the level-0 data) to 1 (full strength).

    At full strength: clutter adds up to 8 more clutter shapes, a blotchy background
    texture and up to two small objects of other classes; occlusion covers each object
    with a patch of up to 40 % of its box; lighting widens the gain, gradient, colour cast
    and sensor noise about threefold; scale lets objects shrink to 15 % of the picture's
    short side (0.55 at level 0); overlap blends a confusable class's colours and
    proportions halfway into its group-mates'; scarcity keeps a quarter of the training and
    validation images; label_noise files a quarter of them under a wrong class. Test
    images keep their count and their true labels, so accuracy still measures learning.
    """

    clutter: float = 0.0
    occlusion: float = 0.0
    lighting: float = 0.0
    scale: float = 0.0
    overlap: float = 0.0
    scarcity: float = 0.0
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Difficulty.{f.name} must be in [0, 1], got {value!r}")

    @classmethod
    def at(cls, level: float, traits: tuple[str, ...] = TRAITS) -> "Difficulty":
        """The named traits (all by default) at level / MAX_DIFFICULTY of full strength,
        the others off: one trait at a time shows which one a model minds."""
        if not 0.0 <= level <= MAX_DIFFICULTY:
            raise ValueError(f"difficulty must be from 0 to {MAX_DIFFICULTY:g}, got {level!r}")
        unknown = [t for t in traits if t not in TRAITS]
        if unknown:
            raise ValueError(
                f"unknown difficulty trait {unknown[0]!r} (traits: {', '.join(TRAITS)})"
            )
        return cls(**{t: level / MAX_DIFFICULTY if t in traits else 0.0 for t in TRAITS})

    def count(self, split: str, n: int) -> int:
        """Images per class of a split: scarcity thins train and validation, never test."""
        if not self.scarcity or split == "test":
            return n
        return max(min(n, 2 if split == "train" else 1), round(n * (1 - 0.75 * self.scarcity)))


EASIEST = Difficulty()


LEAK_KINDS = copies.KINDS  # the kinds planted, in turn (copies.py says how each differs)


@dataclass(frozen=True)
class Leak:
    """A test picture also filed under train, as the public dataset is reported to do."""

    copy: Path
    original: Path
    kind: str  # one of copies.KINDS
    strength: float | None = None  # how far it was changed (copies.STRENGTHS), if the kind says


def generate(
    root: Path,
    counts: dict[str, int],
    seed: int,
    leaks: int = 0,
    difficulty: Difficulty = EASIEST,
    fruit_cue: float = 0.0,
) -> list[Leak]:
    """Write counts[split] JPEGs for every class into root/<split>/<class>/.

    `leaks` test pictures are also filed under train, each changed in one of the ways
    real copies differ (copies.KINDS, in turn), so the audit and dedupe have work to do.
    `difficulty` makes the pictures harder (and scarcity fewer). `fruit_cue` (0 to 1)
    gives an object a highlight with chance (1 + cue) / 2 for a fruit and (1 - cue) / 2
    for a vegetable; 0 draws none. Returns the leaks planted.
    """
    clean = replace(difficulty, label_noise=0.0)  # test labels stay true
    jobs = [
        (
            root / split / cls / f"Image_{i + 1}.jpg",
            (seed, split_no, class_no, i),
            clean if split == "test" else difficulty,
            fruit_cue,
        )
        for split_no, (split, n) in enumerate(counts.items())
        for class_no, cls in enumerate(KAGGLE_CLASSES)
        for i in range(difficulty.count(split, n))
    ]
    for path, *_ in jobs:
        path.parent.mkdir(parents=True, exist_ok=True)
    pmap(_write, jobs)
    rng = np.random.default_rng([seed, 999])
    planted = []
    for k, class_no in enumerate(rng.choice(len(KAGGLE_CLASSES), size=leaks)):
        cls = KAGGLE_CLASSES[class_no]
        tests = sorted((root / "test" / cls).iterdir())
        copy, original = root / "train" / cls / f"Image_leak_{k + 1}.jpg", tests[k % len(tests)]
        kind = copies.KINDS[k % len(copies.KINDS)]
        strength = copies.plant(original, copy, kind, np.random.default_rng([seed, 999, k]))
        planted.append(Leak(copy, original, kind, strength))
    return planted


def product_shot(
    cls: str, rng: np.random.Generator, size: tuple[int, int] = (320, 320)
) -> Image.Image:
    """One or two objects of class `cls` on plain white, as web product shots are.

    Different draws give different photos of similar objects: for a duplicate detector
    the hardest negatives, as in the real data, where such shots of one class (or of
    look-alike classes) start closer together than many true copies. As in photos of
    real fruit, each object has an outline and a play of light of its own (a drawn oval
    alone is the same shape as any other oval of the class, zoomed), and each shot a
    faint camera grain.
    """
    if cls not in LOOKS:
        raise ValueError(f"no look for class {cls!r} (classes: {', '.join(LOOKS)})")
    look = LOOKS[cls]
    side = min(size)
    objects = [
        _as_photographed(_object(look, side, rng), rng) for _ in range(int(rng.integers(1, 3)))
    ]
    shot = np.asarray(copies.on_white(objects, rng, size), dtype=np.float32)
    grain = rng.standard_normal(shot.shape[:2], dtype=np.float32)[..., None] * 2
    return Image.fromarray(np.clip(shot + grain, 0, 255).astype(np.uint8), "RGB")


def _as_photographed(obj: Image.Image, rng: np.random.Generator) -> Image.Image:
    """An object (RGBA) with its outline bent a little and uneven light across it."""
    a = np.asarray(obj.convert("RGBA"), dtype=np.float32)
    h, w = a.shape[:2]

    def smooth(low: float, high: float) -> np.ndarray:  # a random field, 4 x 4 knots
        knots = rng.uniform(low, high, (4, 4)).astype(np.float32)
        return cv2.resize(knots, (w, h), interpolation=cv2.INTER_CUBIC)

    bend = 0.04 * min(w, h)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    a = cv2.remap(a, xs + smooth(-bend, bend), ys + smooth(-bend, bend), cv2.INTER_LINEAR)
    a[..., :3] *= smooth(0.8, 1.15)[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGBA")


def _write(job: tuple[Path, tuple[int, int, int, int], Difficulty, float]) -> None:
    path, key, difficulty, cue = job  # key = (seed, split, class, index): a stream per picture
    rng = np.random.default_rng(key)
    cls = KAGGLE_CLASSES[key[2]]
    if difficulty.label_noise:
        noise = _stream(rng, "label_noise")
        if noise.random() < 0.25 * difficulty.label_noise:  # shows another class
            others = [c for c in KAGGLE_CLASSES if c != cls]
            cls = others[int(noise.integers(len(others)))]
    look = LOOKS[cls]
    if difficulty.overlap and cls in MATES:
        look = _overlapped(look, cls, difficulty.overlap, _stream(rng, "overlap"))
    # The true class's group: label noise files a picture elsewhere, its look goes with it.
    gloss = (1 + cue) / 2 if cls in FRUITS else (1 - cue) / 2
    picture, quality = render(look, rng, difficulty, gloss if cue else 0.0)
    picture.save(path, quality=quality)


def _stream(rng: np.random.Generator, trait: str) -> np.random.Generator:
    """A trait's own stream, spawned from the picture's seed without drawing from it."""
    seq = rng.bit_generator.seed_seq
    assert isinstance(seq, np.random.SeedSequence)
    index = (*TRAITS, "gloss").index(trait)
    return np.random.default_rng(
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, index))
    )


def render(
    look: Look, rng: np.random.Generator, difficulty: Difficulty = EASIEST, gloss: float = 0.0
) -> tuple[Image.Image, int]:
    """One picture of a class; returns it with the JPEG quality to save it at.

    gloss: the chance that an object has a highlight (its own stream: 0 changes nothing).
    """
    d = difficulty
    shine = _stream(rng, "gloss") if gloss else None
    w, h = (int(v) for v in rng.integers(180, 560, size=2))
    canvas = _background(w, h, rng)
    if d.clutter:
        _clutter(canvas, d.clutter, _stream(rng, "clutter"))
    boxes = []
    for _ in range(int(rng.integers(look.count[0], look.count[1] + 1))):
        share = rng.uniform(0.55, 0.95)
        if d.scale:  # the same draw, spread over a wider range: small objects too
            low = 0.55 - 0.4 * d.scale
            share = low + (share - 0.55) / 0.4 * (0.95 - low)
        size = int(min(w, h) * share)
        obj = _object(look, size, rng)
        if shine is not None and shine.random() < gloss:
            obj = _highlight(obj, shine)
        x = int(rng.integers(-size // 5, max(1, w - size * 4 // 5)))
        y = int(rng.integers(-size // 5, max(1, h - size * 4 // 5)))
        canvas.paste(obj, (x, y), obj)
        boxes.append((x, y, size))
    if d.occlusion:
        _occlude(canvas, boxes, d.occlusion, _stream(rng, "occlusion"))
    light = _stream(rng, "lighting") if d.lighting else None
    canvas = _lighting(canvas, rng, d.lighting, light)
    return canvas, int(rng.integers(70, 96))


def _highlight(obj: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A soft white spot on the upper left of the object, inside its outline."""
    alpha = obj.getchannel("A")
    box = alpha.getbbox()
    if box is None:
        return obj
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = x0 + w * rng.uniform(0.3, 0.45), y0 + h * rng.uniform(0.3, 0.45)
    rx, ry = w * rng.uniform(0.09, 0.15), h * rng.uniform(0.06, 0.11)
    spot = Image.new("L", obj.size, 0)
    ImageDraw.Draw(spot).ellipse(
        (cx - rx, cy - ry, cx + rx, cy + ry), fill=int(rng.integers(180, 240))
    )
    spot = ImageChops.multiply(spot.filter(ImageFilter.GaussianBlur(max(1.0, rx / 3))), alpha)
    return Image.composite(Image.new("RGBA", obj.size, (255, 255, 255, 255)), obj, spot)


def _overlapped(look: Look, cls: str, strength: float, rng: np.random.Generator) -> Look:
    """The look with its colours and proportions blended toward a confusable group-mate's."""
    mate = LOOKS[MATES[cls][int(rng.integers(len(MATES[cls])))]]
    a = 0.5 * strength * rng.uniform(0.5, 1.0)  # at most halfway: the classes still differ
    colours = tuple(
        tuple(int(round((1 - a) * c + a * m)) for c, m in zip(own, theirs, strict=True))
        for own, theirs in zip(look.colours, _cycle(mate.colours, len(look.colours)), strict=True)
    )
    aspect = (1 - a) * look.aspect + a * mate.aspect
    return replace(look, colours=colours, aspect=aspect)


def _cycle(colours: tuple[RGB, ...], n: int) -> list[RGB]:
    return [colours[i % len(colours)] for i in range(n)]


def _clutter(canvas: Image.Image, strength: float, rng: np.random.Generator) -> None:
    """A blotchy background texture, more and bolder clutter, small objects of other classes."""
    w, h = canvas.size
    blotches = rng.normal(0, 45 * strength, (h // 24 + 2, w // 24 + 2, 3)).astype(np.float32)
    texture = np.stack(
        [
            np.asarray(Image.fromarray(blotches[..., c]).resize((w, h), Image.Resampling.BICUBIC))
            for c in range(3)
        ],
        axis=-1,
    )
    grain = rng.normal(0, 12 * strength, (h, w, 3)).astype(np.float32)
    a = np.asarray(canvas, dtype=np.float32) + texture + grain
    canvas.paste(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB"))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.binomial(8, strength))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        colour = tuple(int(v) for v in rng.integers(30, 230, 3))
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 16)))
    for _ in range(int(rng.binomial(2, strength))):  # behind the main objects
        other = LOOKS[KAGGLE_CLASSES[int(rng.integers(len(KAGGLE_CLASSES)))]]
        size = int(min(w, h) * rng.uniform(0.15, 0.3))
        obj = _object(other, size, rng)
        canvas.paste(obj, (int(rng.integers(0, w - size)), int(rng.integers(0, h - size))), obj)


def _occlude(
    canvas: Image.Image, boxes: list[tuple[int, int, int]], strength: float,
    rng: np.random.Generator,
) -> None:  # fmt: skip
    """A patch (a hand, a label, another thing) over part of each object."""
    draw = ImageDraw.Draw(canvas)
    for x, y, size in boxes:
        if rng.random() > 0.3 + 0.7 * strength:
            continue
        side = size * np.sqrt(0.4 * strength * rng.uniform(0.5, 1.0))
        cx = x + size * rng.uniform(0.3, 0.7)
        cy = y + size * rng.uniform(0.3, 0.7)
        aspect = rng.uniform(0.5, 2.0)
        pw, ph = side * np.sqrt(aspect), side / np.sqrt(aspect)
        box = (cx - pw / 2, cy - ph / 2, cx + pw / 2, cy + ph / 2)
        colour = tuple(int(v) for v in rng.integers(40, 220, 3))
        if rng.random() < 0.5:
            draw.rectangle(box, fill=colour)
        else:
            draw.ellipse(box, fill=colour)


def _jitter(colour: RGB, rng: np.random.Generator, amount: float = 12) -> RGB:
    c = np.clip(np.array(colour) + rng.normal(0, amount, 3), 0, 255)
    return tuple(int(v) for v in c)  # type: ignore[return-value]


def _background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    a, b = rng.integers(60, 230, size=(2, 3))
    t = np.linspace(0, 1, h)[:, None, None]
    column = (a * (1 - t) + b * t).astype(np.uint8)
    im = Image.fromarray(np.ascontiguousarray(np.broadcast_to(column, (h, w, 3))), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, 5))):  # clutter: boxes and lines of other stuff
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 3)), y0 + int(rng.integers(10, h // 3))
        grey = int(rng.integers(60, 200))  # muted: clutter competes, but less than the object
        colour = tuple(int(np.clip(grey + v, 0, 255)) for v in rng.integers(-30, 30, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 12)))
    return im


def _object(look: Look, size: int, rng: np.random.Generator) -> Image.Image:
    """The object on a transparent square, rotated at random."""
    colour = look.colours[rng.choice(len(look.colours), p=_probs(look))]
    base = _jitter(colour, rng)
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    mask = Image.new("L", (size, size), 0)
    m = ImageDraw.Draw(mask)
    aspect = look.aspect * rng.uniform(0.85, 1.15)
    bw = size * 0.9 / max(aspect, 1.0) if aspect >= 1 else size * 0.9
    bh = min(size * 0.9, bw * aspect)
    cx, cy = size / 2, size / 2
    box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
    if look.shape in ("round", "oval", "long"):
        m.ellipse(box, fill=255)
    elif look.shape == "crescent":
        m.chord((cx - bw * 1.2, cy - bh / 2, cx + bw * 0.6, cy + bh / 2), -60, 60, fill=255)
        m.ellipse((cx - bw * 1.0, cy - bh / 2.3, cx + bw * 0.2, cy + bh / 2.3), fill=0)
    elif look.shape == "cone":
        m.polygon([(cx - bw / 2, cy - bh / 2), (cx + bw / 2, cy - bh / 2), (cx, cy + bh / 2)], 255)
        m.ellipse((cx - bw / 2, cy - bh / 2 - bw / 4, cx + bw / 2, cy - bh / 2 + bw / 4), 255)
    elif look.shape == "bulb":
        m.ellipse((cx - bw / 2, cy - bh / 4, cx + bw / 2, cy + bh / 2), fill=255)
        m.polygon([(cx - bw / 4, cy), (cx + bw / 4, cy), (cx, cy - bh / 2)], fill=255)
    elif look.shape == "pepper":  # three lobes and a stalk
        for dx in (-bw / 4, 0, bw / 4):
            m.ellipse((cx + dx - bw / 3, cy - bh / 2.4, cx + dx + bw / 3, cy + bh / 2), 255)
    elif look.shape in ("cluster", "leafy"):
        blob = size / (9 if look.shape == "cluster" else 3.2)
        for _ in range(40 if look.shape == "cluster" else 9):
            px, py = rng.normal(cx, size / 6), rng.normal(cy, size / 6)
            m.ellipse((px - blob, py - blob, px + blob, py + blob), fill=255)
    fill = Image.new("RGBA", (size, size), base + (255,))
    _texture(fill, look.texture, base, rng)
    layer.paste(fill, (0, 0), mask)
    if rng.random() < look.leaves or look.shape == "pepper":
        d = ImageDraw.Draw(layer)
        top = cy - bh / 2
        leaf = _jitter((50, 130, 40), rng, 15) + (255,)
        for angle in rng.uniform(-0.6, 0.6, size=3 if look.shape != "pepper" else 1):
            tip = (cx + np.sin(angle) * size / 4, top - np.cos(angle) * size / 5)
            d.line((cx, top + size / 20, *tip), fill=leaf, width=max(2, size // 18))
    shade = layer.filter(ImageFilter.GaussianBlur(size / 60))
    return shade.rotate(float(rng.uniform(0, 360)), resample=Image.Resampling.BILINEAR)


def _probs(look: Look) -> np.ndarray:
    w = np.array(look.weights or [1.0] * len(look.colours))
    return w / w.sum()


def _texture(fill: Image.Image, texture: str, base: RGB, rng: np.random.Generator) -> None:
    d = ImageDraw.Draw(fill)
    size = fill.width
    darker = tuple(int(v * 0.6) for v in base) + (255,)
    lighter = tuple(min(255, int(v * 1.25) + 20) for v in base) + (255,)
    if texture == "stripes":
        for x in range(0, size, max(4, size // 8)):
            d.line((x, 0, x + size // 6, size), fill=darker, width=max(2, size // 20))
    elif texture == "speckle":
        a = np.array(fill)
        ys, xs = rng.integers(0, size, (2, size * 2))
        a[ys, xs] = np.where(rng.random((size * 2, 1)) < 0.5, darker, lighter)
        fill.paste(Image.fromarray(a, "RGBA"))
    elif texture == "grid":
        step = max(3, size // 16)
        for x in range(0, size, step):
            for y in range(0, size, step):
                d.ellipse((x, y, x + step * 0.8, y + step * 0.8), fill=lighter, outline=darker)
    elif texture == "florets":
        for _ in range(60):
            x, y, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(3, size // 8 + 4))]
            d.ellipse((x - r, y - r, x + r, y + r), fill=lighter, outline=darker)


def _lighting(
    im: Image.Image, rng: np.random.Generator, strength: float = 0.0,
    extra: np.random.Generator | None = None,
) -> Image.Image:  # fmt: skip
    """Uneven light, a colour cast and sensor noise; `strength` widens every range.

    The level-0 draws are made as always and only rescaled, so a picture keeps its light's
    direction as the range widens; `extra` gives the added colour cast and noise.
    """
    a = np.asarray(im, dtype=np.float32)
    h, w = a.shape[:2]
    slope_x, slope_y = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    level = rng.uniform(0.75, 1.2)
    tint = rng.normal(1, 0.05, 3).astype(np.float32)
    noise = rng.standard_normal(a.shape, dtype=np.float32)
    if strength:  # about three times the ranges at full strength
        assert extra is not None
        slope_x, slope_y = slope_x * (1 + 1.5 * strength), slope_y * (1 + 1.5 * strength)
        low, high = 0.75 - 0.4 * strength, 1.2 + 0.4 * strength
        level = low + (level - 0.75) / 0.45 * (high - low)
        tint = tint * extra.normal(1, 0.1 * strength, 3).astype(np.float32)
        noise = noise * (1 + 2 * strength)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * slope_x
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * slope_y
    gain = (level * (1 + gx + gy))[..., None]
    # a * gain * tint + noise * 5, in place: the same float32 operations in the same order
    # (the same bytes), without four picture-sized temporaries
    a *= gain
    a *= tint
    noise *= 5
    a += noise
    return Image.fromarray(np.clip(a, 0, 255, out=a).astype(np.uint8), "RGB")

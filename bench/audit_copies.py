"""Benchmark: which copies the audit finds, kind by kind and strength by strength, and how
many different pictures it wrongly joins; the audit before this change beside today's.

    python bench/audit_copies.py [--per-class 40] [--shots 12] [--baseline c80477a]

The pictures, written as JPEGs in a raw dataset tree and audited as the stage audits:
- negatives, all different pictures: the synthetic stand-in (--per-class per class), web
  product shots of every class on plain white (--shots per class: the hardest negatives,
  similar objects on white), and real photographs shipped with scikit-image, whole and cut
  into non-overlapping tiles (different pictures of the same scene);
- copies: for every kind of fruitveg.download.copies and each strength below, a copy of
  each of a set of originals (real photos, synthetic pictures, product shots). Each
  setting is audited on its own beside every negative, so a copy is found through its
  original, not through another copy of it.

Recall: the share of copies put in their original's group. False groups: groups joining
two different pictures among the negatives alone. The baseline is the audit of --baseline
(its hashing module, loaded from git): an exhaustive search of the colour hash in eight
orientations within near_duplicate_distance bits, as the audit stage ran it.
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

from fruitveg.audit import links
from fruitveg.audit.duplicates import Inspected, inspect
from fruitveg.audit.settings import AuditSettings
from fruitveg.core import params
from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import RawFile
from fruitveg.download import copies
from fruitveg.download.synthetic import generate, product_shot

REPO = Path(__file__).resolve().parents[1]
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
          "hubble_deep_field", "retina", "colorwheel", "camera", "brick", "grass", "gravel",
          "moon", "coins", "clock", "cell")  # fmt: skip
SETTINGS: tuple[tuple[str, float | None], ...] = (
    ("resized", None), ("reencoded", None), ("cropped", None), ("exif", None),
    ("rotated", None), ("mirrored", None),
    ("crop", 0.05), ("crop", 0.10), ("crop", 0.20), ("crop", 0.40),
    ("pad", 0.10), ("pad", 0.25),
    ("mirror_crop", 0.05), ("mirror_crop", 0.15), ("mirror_crop", 0.25),
    ("turn", 3.0), ("turn", 10.0),
    ("recolour", 0.3), ("recolour", 0.6), ("recolour", 1.0),
    ("watermark", 0.2), ("watermark", 0.6), ("watermark", 1.0),
    ("edit", 0.05), ("edit", 0.10), ("edit", 0.15),
)  # fmt: skip


@dataclass(frozen=True)
class Picture:
    file: RawFile
    origin: str  # pictures of one origin are copies of each other
    family: str  # synthetic | product shot | photo


def negatives(root: Path, per_class: int, shots: int, seed: int) -> list[Picture]:
    """Different pictures only, as files under root/train/<class>/."""
    from skimage import data  # test and benchmark data: real photographs in the package

    generate(root / "syn", {"train": per_class}, seed)
    out = [
        Picture(RawFile("train", p.parent.name, p), f"syn:{p.parent.name}/{p.name}", "synthetic")
        for p in sorted((root / "syn" / "train").rglob("*.jpg"))
    ]
    for k, cls in enumerate(KAGGLE_CLASSES):
        folder = root / "shots" / cls
        folder.mkdir(parents=True)
        for i in range(shots):
            path = folder / f"shot_{i}.jpg"
            product_shot(cls, np.random.default_rng([seed, k, i])).save(path, quality=92)
            out.append(Picture(RawFile("train", cls, path), f"shot:{cls}/{i}", "product shot"))
    folder = root / "photos" / "photo"
    folder.mkdir(parents=True)
    for name in PHOTOS:
        im = Image.fromarray(getattr(data, name)()).convert("RGB")
        w, h = im.size
        tiles = {  # a large photo's quarters: different pictures of one scene
            f"q{i}{j}": im.crop((i * w // 2, j * h // 2, (i + 1) * w // 2, (j + 1) * h // 2))
            for i in range(2)
            for j in range(2)
        } if min(w, h) >= 400 else {"whole": im}  # fmt: skip
        for tile, part in tiles.items():
            path = folder / f"{name}_{tile}.jpg"
            part.save(path, quality=92)
            out.append(Picture(RawFile("train", "photo", path), f"photo:{name}/{tile}", "photo"))
    return out


def originals(pictures: list[Picture], seed: int) -> list[Picture]:
    """The pictures copies are made of: every real photo (or quarter), and a seeded sample
    of synthetic pictures and product shots."""
    rng = np.random.default_rng(seed)
    real = [p for p in pictures if p.family == "photo"]
    pick = []
    for family, n in (("synthetic", 36), ("product shot", 24)):
        pool = [p for p in pictures if p.family == family]
        pick += [pool[i] for i in sorted(rng.choice(len(pool), n, replace=False))]
    return real + pick


def plant_copies(
    root: Path, bases: list[Picture], kind: str, strength: float | None, seed: int
) -> list[Picture]:
    folder = root / f"copies_{kind}_{strength}"
    out = []
    for n, base in enumerate(bases):
        path = folder / base.file.cls / f"copy_{n}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        copies.plant(base.file.path, path, kind, np.random.default_rng([seed, n]), strength)
        out.append(Picture(RawFile("train", base.file.cls, path), base.origin, base.family))
    return out


def module_at(rev: str, path: str) -> ModuleType:
    """The module at `path` (from the repository root) as it was at git revision `rev`."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    name = f"{Path(path).stem}_{rev}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))  # type: ignore[arg-type]
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def groups_of(n: int, pairs: Iterable[tuple[int, int]]) -> np.ndarray:
    """Each picture's group label, joining `pairs` transitively."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[root(i)] = root(j)
    return np.array([root(i) for i in range(n)])


def old_pairs(old: ModuleType, items: list[Inspected], distance: int) -> list[tuple[int, int]]:
    first: dict[str, int] = {}
    pairs = [(first.setdefault(x.sha256, k), k) for k, x in enumerate(items)]
    pairs = [(i, k) for i, k in pairs if i != k]
    return pairs + old.near_pairs(np.stack([x.hashes for x in items]), distance)


def new_pairs(
    items: list[Inspected], settings: AuditSettings, scores: list | None = None
) -> list[tuple[int, int]]:
    found = links.find(
        [x.sha256 for x in items],
        np.stack([x.hashes for x in items]),
        [x.features for x in items],
        settings,
        looked_at=scores,  # every pair compared, for the margins
    )
    return [(x.i, x.j) for x in found]


def false_groups(labels: np.ndarray, origins: list[str]) -> tuple[int, int]:
    """Groups joining different origins, and the files in them."""
    by_group: dict[int, set[str]] = {}
    size: Counter[int] = Counter()
    for g, o in zip(labels, origins, strict=True):
        by_group.setdefault(int(g), set()).add(o)
        size[int(g)] += 1
    bad = [g for g, found in by_group.items() if len(found) > 1]
    return len(bad), sum(size[g] for g in bad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--shots", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--baseline", default="c80477a", help="git revision of the old audit")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "audit_copies.md")
    args = ap.parse_args()
    settings = _settings()
    old = module_at(args.baseline, "src/fruitveg/audit/hashing.py")  # near_pairs: the old search
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        negs = negatives(root, args.per_class, args.shots, args.seed)
        neg_items = pmap(inspect, [p.file for p in negs], label="bench: negatives read")
        n = len(negs)
        lines = [
            f"# Audit: copies found and different pictures joined ({args.baseline} beside now)",
            "",
            f"{n} different pictures ({n * (n - 1) // 2:,} pairs): "
            + ", ".join(f"{c} {f}" for f, c in Counter(p.family for p in negs).items())
            + f". Settings: {settings}.",
            "",
            "## False groups among the different pictures",
            "",
            "| pictures | pairs | old: false groups (files) | new: false groups (files) |",
            "|---|---:|---:|---:|",
        ]
        scores: list = []
        old_labels = groups_of(n, old_pairs(old, neg_items, settings.near_duplicate_distance))
        new_labels = groups_of(n, new_pairs(neg_items, settings, scores))
        origins = [p.origin for p in negs]
        for family in ("synthetic", "product shot", "photo", None):
            keep = [k for k, p in enumerate(negs) if family in (None, p.family)]
            sub = [origins[k] for k in keep]
            m = len(keep)
            old_f = false_groups(old_labels[keep], sub)
            new_f = false_groups(new_labels[keep], sub)
            lines.append(
                f"| {family or 'all'} | {m * (m - 1) // 2:,} | {old_f[0]} ({old_f[1]}) "
                f"| {new_f[0]} ({new_f[1]}) |"
            )
        bases = originals(negs, args.seed)
        lines += [
            "",
            "## Recall: copies put in their original's group",
            "",
            f"{len(bases)} originals per setting: "
            + ", ".join(f"{c} {f}" for f, c in Counter(p.family for p in bases).items())
            + ".",
            "",
            "| kind | strength | copies | old | new | new: found by exact / hash / match |",
            "|---|---:|---:|---:|---:|---|",
        ]
        positive_scores: list = []
        index = {id(p): k for k, p in enumerate(negs)}
        for kind, strength in SETTINGS:
            planted = plant_copies(root, bases, kind, strength, args.seed)
            items = neg_items + pmap(inspect, [p.file for p in planted])
            everyone = negs + planted
            olds = groups_of(len(items), old_pairs(old, items, settings.near_duplicate_distance))
            looked: list[links.Compared] = []
            found = links.find(
                [x.sha256 for x in items],
                np.stack([x.hashes for x in items]),
                [x.features for x in items],
                settings,
                looked_at=looked,
            )
            news = groups_of(len(items), [(x.i, x.j) for x in found])
            how = {(x.i, x.j): x.how for x in found} | {(x.j, x.i): x.how for x in found}
            old_hit = new_hit = 0
            by: Counter[str] = Counter()
            for k, base in enumerate(bases):
                c, b = n + k, index[id(base)]
                old_hit += olds[c] == olds[b]
                if news[c] == news[b]:
                    new_hit += 1
                    by[how.get((c, b), "via others")] += 1
            for c in looked:
                if c.j >= n and everyone[c.i].origin == everyone[c.j].origin:
                    positive_scores.append((kind, strength, everyone[c.i].family, c))
            shown = "" if strength is None else f"{strength:g}"
            lines.append(
                f"| {kind} | {shown} | {len(planted)} | {old_hit / len(planted):.0%} "
                f"| {new_hit / len(planted):.0%} | "
                + " / ".join(str(by[h]) for h in ("exact", "hash", "match"))
                + (f" (+{by['via others']} through another picture)" if by["via others"] else "")
                + " |"
            )
            print(lines[-1], flush=True)
        lines += ["", *_margins(scores, positive_scores, negs, settings), ""]
        _dump(args.out.with_suffix(".scores.json"), scores, positive_scores, negs)
        lines.append(f"Wall time {time.perf_counter() - t0:.0f} s.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _dump(path: Path, negative: list, positive: list, negs: list[Picture]) -> None:
    """Every pair compared closely, for choosing the thresholds."""
    import json

    def row(c: links.Compared) -> dict:
        m = c.match
        return {
            "found_by": c.found_by,
            "hash_bits": c.hash_bits,
            "aligned": c.aligned.agreement if c.aligned else None,
        } | (vars(m) if m is not None else {"inliers": 0, "agreement": 0.0, "colour": 0.0})

    rows = [
        {"copy": False, "families": [negs[c.i].family, negs[c.j].family], **row(c)}
        for c in negative
        if negs[c.i].origin != negs[c.j].origin
    ] + [{"copy": True, "kind": k, "strength": s, "family": f, **row(c)} for k, s, f, c in positive]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))


def _settings() -> AuditSettings:
    from fruitveg.audit.settings import audit_settings

    return audit_settings(params.load(REPO / "params.yaml"))


def _margins(negative: list, positive: list, negs: list[Picture], s: AuditSettings) -> list[str]:
    """How far the thresholds are from the closest different pictures and the weakest
    copies, path by path."""
    out = ["## Margins of the confirmation thresholds", ""]
    for path in (links.HASH, links.MATCH):
        neg = [c for c in negative if c.found_by == path and negs[c.i].origin != negs[c.j].origin]
        pos = [c for *_, c in positive if c.found_by == path]
        kept = [c for c in pos if links.accepted(c, s)]
        wrong = [c for c in neg if links.accepted(c, s)]
        agree = [
            max(m.agreement for m in (c.match, c.aligned) if m is not None)
            for c in neg
            if c.match is not None or c.aligned is not None
        ]
        out.append(
            f"- found by {path}: different pictures compared {len(neg)}, accepted {len(wrong)}, "
            f"best agreement {max(agree, default=float('nan')):.2f}, most inliers "
            f"{max((c.match.inliers for c in neg if c.match), default=0)}; copies compared "
            f"{len(pos)}, accepted {len(kept)}"
        )
    return out


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the whole audit at 10k, 30k and 100k pictures, how its search grows, and what
the indexes miss against an exhaustive search.

    python bench/audit_scale.py [--sizes 10000 30000 100000] [--brute-at 10000]
                                [--baseline 871a9a1]

Pictures of about 256 px are generated (random shapes, colours and light on a ramp, with
sensor noise: each one different), and a copy of every hundredth one is planted, of a
kind cycling through fruitveg.download.copies.KINDS. Each size audits the first n
pictures, as the audit stage does (every core), and reports its wall time by phase:
reading (decode, hashes, features: per picture, so linear), then the search (hash index,
bags of words, their index, and the comparison of the candidate pairs). The search's
growth is the slope of log time against log n. At --brute-at, the same audit with
exhaustive searches instead of the indexes gives what the indexes miss. The audit of
--baseline (its src/ from git, in a process of its own) runs beside at the smallest size.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from fruitveg.audit import links
from fruitveg.audit.duplicates import audit, inspect
from fruitveg.audit.settings import audit_settings
from fruitveg.core import params
from fruitveg.data.classes import KAGGLE_CLASSES
from fruitveg.data.parallel import pmap
from fruitveg.data.rawdata import RawFile
from fruitveg.download import copies

REPO = Path(__file__).resolve().parents[1]
COPY_EVERY = 100
# Run in the baseline's source tree: audits the files given on stdin, writes its stats.
BASELINE = """
import json, sys, time
from pathlib import Path
from fruitveg.audit.duplicates import audit
from fruitveg.audit.settings import audit_settings
from fruitveg.core import params
from fruitveg.data.rawdata import RawFile
files = [RawFile(split, cls, Path(path)) for split, cls, path in json.load(sys.stdin)]
stats = {}
t0 = time.perf_counter()
report, rows = audit(files, audit_settings(params.load(Path(sys.argv[1]))), stats)
stats["wall_s"] = time.perf_counter() - t0
stats["group"] = {r["file"]: r["group"] for r in rows}
Path(sys.argv[2]).write_text(json.dumps(stats))
"""


def picture(seed: int, side: int = 256) -> np.ndarray:
    """A different picture for each seed: shapes on a coloured ramp, with noise."""
    rng = np.random.default_rng([seed, 1])
    w = side
    h = int(side * rng.uniform(0.75, 1.33))
    ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    im = np.ascontiguousarray(np.broadcast_to(a + (b - a) * ramp, (h, w, 3)).astype(np.uint8))
    for _ in range(int(rng.integers(4, 10))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(side // 20, side // 4))
        kind = rng.integers(3)
        if kind == 0:
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(im, (x, y), (r, int(r * rng.uniform(0.3, 1))), angle, 0, 360, colour, -1)
        elif kind == 1:
            cv2.rectangle(im, (x, y), (x + r, y + int(r * rng.uniform(0.3, 2))), colour, -1)
        else:
            points = rng.integers(0, side, (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(im, [points], colour)
    noisy = rng.standard_normal(im.shape, dtype=np.float32)  # float32: a third of the time
    noisy *= 4
    noisy += im
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)


def write(job: tuple[int, Path]) -> None:
    seed, path = job
    Image.fromarray(picture(seed)).save(path, quality=90)


def make(root: Path, n: int) -> tuple[list[RawFile], dict[str, str]]:
    """n pictures, then their copies; files in order, and each copy's original."""
    jobs, files = [], []
    for k in range(n):
        cls = KAGGLE_CLASSES[k % len(KAGGLE_CLASSES)]
        path = root / "train" / cls / f"p{k:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((k, path))
        files.append(RawFile("train", cls, path))
    pmap(write, jobs, label="bench: pictures written")
    originals: dict[str, str] = {}
    for c, k in enumerate(range(0, n, COPY_EVERY)):
        kind = copies.KINDS[c % len(copies.KINDS)]
        original = files[k]
        path = original.path.with_name(f"copy_{original.path.stem}.jpg")
        copies.plant(original.path, path, kind, np.random.default_rng([k, 2]))
        originals[RawFile("train", original.cls, path).key] = original.key
    return files, originals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--brute-at", type=int, default=10_000)
    ap.add_argument("--baseline", default="871a9a1", help="git revision of the old audit")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "audit_scale.md")
    args = ap.parse_args()
    settings = audit_settings(params.load(REPO / "params.yaml"))
    lines = [
        "# Audit at scale",
        "",
        "| audit | pictures | copies planted | found | wall s | reading s | search s "
        "| of which: hashes / bags / candidates / compared | pairs compared |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    searches: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files, originals = make(Path(tmp), max(args.sizes))
        by_key = {f.key: f for f in files}
        copy_files = [
            RawFile(
                "train", by_key[o].cls, by_key[o].path.with_name(f"copy_{by_key[o].path.stem}.jpg")
            )
            for o in originals.values()
        ]
        for n in sorted(args.sizes):
            subset = files[:n] + [c for c in copy_files if int(c.path.stem[-6:]) < n]
            planted = {c.key: originals[c.key] for c in subset if c.key in originals}
            stats: dict[str, float] = {}
            t0 = time.perf_counter()
            _, rows = audit(subset, settings, stats)
            stats["wall_s"] = time.perf_counter() - t0
            lines.append(_row("now", subset, planted, stats, {r["file"]: r["group"] for r in rows}))
            print(lines[-1], flush=True)
            searches.append((len(subset), sum(stats[k] for k in STEPS)))
            if n == min(args.sizes) and args.baseline:
                old = baseline(args.baseline, subset, Path(tmp))
                lines.append(_row(args.baseline, subset, planted, old, old["group"]))
                print(lines[-1], flush=True)
        if len(searches) > 1:
            x = np.log([n for n, _ in searches])
            y = np.log([s for _, s in searches])
            slope = float(np.polyfit(x, y, 1)[0])
            lines += [
                "",
                f"Search time grows as n^{slope:.2f} (least squares, log-log, {len(x)} sizes).",
            ]
        if args.brute_at:
            with_copies = files[: args.brute_at] + [
                c for c in copy_files if int(c.path.stem[-6:]) < args.brute_at
            ]
            lines += ["", *recall(with_copies, settings)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


STEPS = ("hash_s", "bags_s", "candidates_s", "compare_s")


def _row(who: str, subset: list[RawFile], planted: dict[str, str], stats: dict, group: dict) -> str:
    found = sum(
        group.get(c) is not None and group.get(c) == group.get(o) for c, o in planted.items()
    )
    steps = " / ".join(f"{stats[k]:.0f}" for k in STEPS)
    return (
        f"| {who} | {len(subset):,} | {len(planted)} | {found} | {stats['wall_s']:.0f} "
        f"| {stats['read_s']:.0f} | {sum(stats[k] for k in STEPS):.0f} | {steps} "
        f"| {stats['compared']:,.0f} |"
    )


def baseline(rev: str, files: list[RawFile], tmp: Path) -> dict:
    """The audit of git revision `rev` on `files`, in a process of its own."""
    src = tmp / f"baseline-{rev}"
    src.mkdir()
    archive = subprocess.run(
        ["git", "archive", rev, "src"], cwd=REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    out = tmp / "baseline.json"
    subprocess.run(
        [sys.executable, "-c", BASELINE, str(REPO / "params.yaml"), str(out)],
        input=json.dumps([[f.split, f.cls, str(f.path)] for f in files]), text=True,
        env={**os.environ, "PYTHONPATH": str(src / "src")}, check=True,
    )  # fmt: skip
    return json.loads(out.read_text())


def recall(files: list[RawFile], settings) -> list[str]:  # noqa: ANN001
    """Links and candidate pairs found through the indexes, against exhaustive searches."""
    items = pmap(inspect, files, label="bench: pictures read")
    sha = [x.sha256 for x in items]
    hashes = np.stack([x.hashes for x in items])
    feats = [x.features for x in items]
    out = [f"## The indexes against exhaustive search, {len(files):,} pictures", ""]
    t = {}
    found = {}
    for brute in (False, True):
        t0 = time.perf_counter()
        found[brute] = {(x.i, x.j) for x in links.find(sha, hashes, feats, settings, brute=brute)}
        t[brute] = time.perf_counter() - t0
    both = found[False] & found[True]
    share = len(both) / len(found[True]) if found[True] else math.nan
    out.append(
        f"- links: exhaustive {len(found[True])}, indexed {len(found[False])}, in both "
        f"{len(both)}: recall {share:.1%} ({t[False]:.0f} s indexed, {t[True]:.0f} s exhaustive)"
    )
    return out


if __name__ == "__main__":
    main()

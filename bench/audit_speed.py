"""Benchmark: the audit's images/s, against the hashing it replaced, in the same run.

    python bench/audit_speed.py [--per-class 10] [--photos 120]

Two datasets: the synthetic stand-in (photos of 180-560 px, --per-class per class and
split) and large 4000x3000 JPEGs (--photos, as in bench/layout_speed.py). On each, in the
same run: the old hashing (64-px draft decode, imagehash's pHash, one orientation), ours
(256-px decode, colour pHash in 8 orientations) in one process, the old hashing on every
core, and the whole audit (hashing on every core, grouping and report).
"""

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
from layout_speed import make_photos  # bench/ is the script's folder, so on sys.path

from fruitveg.audit.duplicates import audit, inspect
from fruitveg.data.images import decode
from fruitveg.data.parallel import pmap, workers
from fruitveg.data.rawdata import RawFile, scan
from fruitveg.download.synthetic import generate


def old_inspect(f: RawFile) -> int:
    """What the audit did before: SHA-256, a 64-px draft decode and one pHash."""
    hashlib.sha256(f.path.read_bytes()).hexdigest()
    return int(str(imagehash.phash(decode(f.path, min_side=64))), 16)


def rates(files: list[RawFile]) -> dict[str, float]:
    runs: dict[str, Callable[[], object]] = {
        "old: 64-px decode, pHash, 1 process": lambda: [old_inspect(f) for f in files],
        "ours: 256-px decode, 8 orientations, 1 process": lambda: [inspect(f) for f in files],
        f"old hashing, {workers()} workers": lambda: pmap(old_inspect, files),
        f"ours: the whole audit, {workers()} workers": lambda: audit(files, 4),
    }
    out = {}
    for name, run in runs.items():
        t = time.perf_counter()
        run()
        out[name] = len(files) / (time.perf_counter() - t)
    return out


def show(title: str, result: dict[str, float]) -> None:
    base = next(iter(result.values()))
    print(f"\n{title}\n{'method':50} {'images/s':>9} {'vs old':>7}")
    for name, rate in result.items():
        print(f"{name:50} {rate:9.1f} {rate / base:6.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--photos", type=int, default=120)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        root = Path(tmp)
        n = args.per_class
        generate(root / "synthetic", {"train": n, "validation": n, "test": n}, seed=1, leaks=12)
        files = scan(root / "synthetic")
        show(f"synthetic stand-in: {len(files)} photos of 180-560 px", rates(files))
        if args.photos:
            (root / "photos").mkdir()
            make_photos(root / "photos", args.photos)
            files = scan(root / "photos" / "raw")
            show(f"{len(files)} JPEGs of 4000x3000", rates(files))


if __name__ == "__main__":
    main()

"""Benchmark: laying out large photos, against a naive open-convert-resize loop.

    python bench/layout_speed.py [--images 500] [--size 256]

Generates N 3000x4000 JPEGs (a few distinct pictures, copied), then times in the same
run: the naive loop (Image.open -> convert("RGB") -> resize -> save, one process),
our layout with one worker (draft-mode decoding alone) and with every core.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fruitveg.data.images import JPEG_QUALITY
from fruitveg.data.parallel import workers
from fruitveg.data.rawdata import scan
from fruitveg.download.synthetic import LOOKS, render
from fruitveg.layout.build import build


def make_photos(root: Path, n: int, distinct: int = 8) -> None:
    originals = []
    for k in range(distinct):
        rng = np.random.default_rng(k)
        small, _ = render(LOOKS["apple"], rng)
        big = np.asarray(small.resize((4000, 3000), Image.Resampling.BICUBIC), dtype=np.int16)
        big = big + rng.integers(-12, 12, big.shape, dtype=np.int16)  # sensor-like detail
        path = root / f"original_{k}.jpg"
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, quality=90)
        originals.append(path)
    for split in ("train", "validation", "test"):
        (root / "raw" / split / "apple").mkdir(parents=True)
    for i in range(n):
        split = ("train", "validation", "test")[i % 3]
        shutil.copy(originals[i % distinct], root / "raw" / split / "apple" / f"photo_{i}.jpg")


def naive(files: list[Path], out: Path, size: int) -> None:
    out.mkdir()
    for i, p in enumerate(files):
        Image.open(p).convert("RGB").resize((size, size)).save(
            out / f"{i}.jpg", quality=JPEG_QUALITY
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="layout-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        make_photos(root, args.images)
        print(f"made {args.images} 4000x3000 JPEGs in {time.perf_counter() - t:.0f} s")
        files = scan(root / "raw")
        runs = {
            "naive open-convert-resize, 1 process": lambda out: naive(
                [f.path for f in files], out, args.size
            ),
            "ours, draft decode, 1 worker": lambda out: build(
                files, {"apple": "apple"}, out, args.size, {}, n_workers=1
            ),
            f"ours, draft decode, {workers()} workers": lambda out: build(
                files, {"apple": "apple"}, out, args.size, {}
            ),
        }
        rates = {}
        for name, run in runs.items():
            out = root / f"out{len(rates)}"
            t = time.perf_counter()
            run(out)
            rates[name] = len(files) / (time.perf_counter() - t)
            shutil.rmtree(out)
        base = rates[next(iter(rates))]
        print(f"\n{'method':45} {'images/s':>9} {'speed-up':>9}")
        for name, rate in rates.items():
            print(f"{name:45} {rate:9.1f} {rate / base:8.1f}x")


if __name__ == "__main__":
    main()

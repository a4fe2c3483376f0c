"""Benchmark: the audit's hash search (search.hash_pairs) alone, at up to 100k pictures,
today's beside a git revision's, and what it misses against an exhaustive search.

    python bench/hash_search.py [--sizes 10000 30000 100000] [--baseline 7695ffb]
                                [--brute-up-to 30000]

The hashes of n generated pictures (audit_scale.picture, about 256 px), and for a fifth
of them a planted copy: the original's hash in a random orientation with 5 to 44 random
bits flipped, so within the default near_duplicate_distance, spread over the bits as no
real copy spreads them (a hard case for a graph search). Each size times both searches on
the same hashes; up to --brute-up-to, recall is the share of the exhaustive search's
pairs that the graph finds.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fruitveg.audit import search
from fruitveg.audit.hashing import BITS, ORIENTATIONS, orientation_hashes
from fruitveg.core import params
from fruitveg.data.parallel import pmap

sys.path.insert(0, str(Path(__file__).parent))
from audit_copies import module_at  # noqa: E402
from audit_scale import picture  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def hashes_of(seed: int) -> np.ndarray:
    return orientation_hashes(Image.fromarray(picture(seed)))


def with_copies(originals: np.ndarray, max_bits: int, seed: int) -> np.ndarray:
    """`originals` (n, 8, words) and after them a copy of every fifth one."""
    rng = np.random.default_rng(seed)
    n, _, words = originals.shape
    as_bits = np.unpackbits(originals.view(np.uint8), axis=2)  # (n, 8, 64 * words)
    copies = []
    for k in range(0, n, 5):
        turn = int(rng.integers(ORIENTATIONS))
        bits = np.roll(as_bits[k], -turn, axis=0)  # its upright hash: the original turned
        flips = rng.choice(BITS, int(rng.integers(5, max_bits + 1)), replace=False)
        bits[:, flips] ^= 1
        copies.append(np.packbits(bits, axis=1).view(np.uint64))
    return np.concatenate([originals, np.stack(copies).reshape(-1, ORIENTATIONS, words)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--baseline", default="7695ffb", help="git revision of the old search")
    ap.add_argument("--brute-up-to", type=int, default=30_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "hash_search.md")
    args = ap.parse_args()
    distance = params.load(REPO / "params.yaml")["audit"]["near_duplicate_distance"]
    started = time.perf_counter()
    every = np.stack(pmap(hashes_of, range(max(args.sizes)), label="bench: pictures hashed"))
    made_s = time.perf_counter() - started
    old = module_at(args.baseline, "src/fruitveg/audit/search.py")
    lines = [
        "# The hash search alone",
        "",
        f"Hashes of {len(every):,} generated pictures made in {made_s:.0f} s; a copy of every "
        f"fifth planted 5-{distance} bits away in a random orientation.",
        "",
        f"| pictures | {args.baseline} s | now s | pairs {args.baseline} | pairs now "
        "| exhaustive s | recall now | recall " + args.baseline + " |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    timings: dict[str, list[tuple[int, float]]] = {"old": [], "now": []}
    for n in sorted(args.sizes):
        hashes = with_copies(every[:n], distance, seed=n)
        found, took = {}, {}
        for who, module in (("old", old), ("now", search)):
            t0 = time.perf_counter()
            found[who] = set(module.hash_pairs(hashes, distance))
            took[who] = time.perf_counter() - t0
            timings[who].append((len(hashes), took[who]))
        brute_s, recall_now, recall_old = "", "", ""
        if n <= args.brute_up_to:
            t0 = time.perf_counter()
            truth = set(search.hash_pairs(hashes, distance, brute=True))
            brute_s = f"{time.perf_counter() - t0:.1f}"
            recall_now = f"{len(found['now'] & truth) / len(truth):.2%}"
            recall_old = f"{len(found['old'] & truth) / len(truth):.2%}"
        lines.append(
            f"| {len(hashes):,} | {took['old']:.1f} | {took['now']:.1f} | {len(found['old']):,} "
            f"| {len(found['now']):,} | {brute_s} | {recall_now} | {recall_old} |"
        )
        print(lines[-1], flush=True)
    if len(args.sizes) > 1:
        lines.append("")
        for who, points in timings.items():
            x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            name = args.baseline if who == "old" else "now"
            lines.append(f"- {name}: time grows as n^{np.polyfit(x, y, 1)[0]:.2f} (log-log fit)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

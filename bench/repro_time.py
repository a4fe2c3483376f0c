"""Wall time of a fresh-clone `dvc repro`, stage by stage (a benchmark, not a test).

Each revision is cloned from this repository into a temporary folder and `dvc repro` runs
there with this checkout's .venv (the clone's own src/ first on the path), as a newcomer's
`make repro` would. The seconds of a stage run from its "Running stage" line to the next
one, the lock-file update included. Revisions run one after the other in the same
invocation, so the table compares them on the same machine at the same time. Run alone:
anything else on the cores shows up in the figures. From the repository root:

    .venv/bin/python bench/repro_time.py                            # HEAD, params as committed
    .venv/bin/python bench/repro_time.py --revs e2e02ea HEAD --precision float32
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = re.compile(r"^Running stage '([^']+)'")


def repro(rev: str, precision: str | None, log: Path, keep: bool) -> tuple[dict[str, float], float]:
    """Seconds per stage of one fresh-clone `dvc repro` of rev, and the whole wall time."""
    tmp = Path(tempfile.mkdtemp(prefix="repro-"))
    try:
        clone = tmp / "clone"
        print(f"  clone: {clone}", flush=True)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", rev], check=True)
        if precision:  # the same file edit a user would make, so dvc.lock records it
            params = clone / "params.yaml"
            text, n = re.subn(
                r"(?m)^(\s+mixed_precision:\s*)\S+", rf"\g<1>{precision}", params.read_text()
            )
            if n != 1:
                sys.exit(f"{rev}: params.yaml has no train.mixed_precision to set")
            params.write_text(text)
        bin_dir = ROOT / ".venv" / "bin"
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(clone / "src"),
            "PYTHONUNBUFFERED": "1",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(clone / ".dvc" / "tmp" / "site_cache"),
        }
        times: dict[str, float] = {}
        start = last = time.perf_counter()
        current = "(dvc start-up)"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [str(bin_dir / "dvc"), "repro"],
                cwd=clone,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if m := STAGE.match(line):
                    now = time.perf_counter()
                    times[current] = now - last
                    current, last = m.group(1), now
            rc = proc.wait()
        end = time.perf_counter()
        times[current] = end - last
        if rc:
            sys.exit(f"{rev}: dvc repro failed ({rc}); its output: {log}")
        return times, end - start
    finally:
        if not keep:
            shutil.rmtree(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revs", nargs="+", default=["HEAD"], help="git revisions to time")
    parser.add_argument("--precision", help="set train.mixed_precision (e.g. float32) first")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--keep", action="store_true", help="keep the clones (paths printed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    results = {}
    for rev in args.revs:
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        log = args.out / f"repro_{sha}.log"
        print(f"{rev} ({sha}): dvc repro in a fresh clone, output in {log}", flush=True)
        results[sha] = repro(sha, args.precision, log, args.keep)
        print(f"  {results[sha][1]:.0f} s", flush=True)

    stages = list(dict.fromkeys(s for times, _ in results.values() for s in times))
    print(f"\nprecision: {args.precision or 'as committed'}; seconds per stage\n")
    print("| stage | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for stage in stages:
        cells = [f"{t[stage]:.1f}" if stage in t else "-" for t, _ in results.values()]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print("| **total** | " + " | ".join(f"**{w:.0f}**" for _, w in results.values()) + " |")


if __name__ == "__main__":
    main()

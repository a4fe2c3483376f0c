"""Wall time of `scripts/lr_sweep.py` with 1 and with 2 queue workers (a benchmark, not a test).

Copies the repository's code into bench/out/sweep_jobs/ (tests/repo_copy.py: no outputs),
sizes it small but real (--per-class training images per class at --size px; binary_cnn
and cnn, --epochs each), reproduces it once and commits: the baseline. Then, in a fresh copy
of that baseline for each --jobs value, times a sweep of cnn over three learning rates
(each experiment reruns train@cnn, evaluate@cnn, report and push_db), with this
checkout's scripts/lr_sweep.py and prints one line
per value with the load average before and after. Run from the repository root:

    .venv/bin/python bench/sweep_jobs.py                  # --jobs 1 and 2, 3 rates
    .venv/bin/python bench/sweep_jobs.py --keep-baseline  # the same baseline again
    .venv/bin/python bench/sweep_jobs.py --per-class 16 --size 48 --epochs 5
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.repo_copy import copy_repo  # noqa: E402

OUT = ROOT / "bench" / "out" / "sweep_jobs"
# None equal to the baseline's 1e-3: that experiment would train nothing (all cached).
RATES = ("1e-2", "1e-4", "1e-5")


def sh(cwd: Path, *args: str) -> str:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def baseline(per_class: int, size: int, epochs: int, keep: bool) -> Path:
    repo = OUT / "baseline"
    if keep and (repo / "dvc.lock").exists():
        for old in OUT.glob("jobs*"):
            shutil.rmtree(old)
        return repo
    shutil.rmtree(OUT, ignore_errors=True)
    repo.mkdir(parents=True)
    copy_repo(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["synthetic"] = {"train": per_class, "validation": 2, "test": 2, "leaks": 2}
    params["layout"]["image_size"] = size
    params["models"] = {
        k: v | {"epochs": epochs, "batch_size": 16}
        for k, v in params["models"].items()
        if k in ("binary_cnn", "cnn")
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "bench config")
    start = time.monotonic()
    sh(repo, sys.executable, "-m", "dvc", "repro", "-q")
    print(f"baseline dvc repro: {time.monotonic() - start:.0f} s", flush=True)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "baseline")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=8, help="training images per class")
    parser.add_argument("--size", type=int, default=32, help="layout.image_size")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--lr", nargs="+", default=list(RATES), help="the sweep's rates")
    parser.add_argument("--keep-baseline", action="store_true", help="reuse the last baseline")
    args = parser.parse_args()
    base = baseline(args.per_class, args.size, args.epochs, args.keep_baseline)
    for jobs in args.jobs:
        repo = OUT / f"jobs{jobs}"
        shutil.copytree(base, repo, symlinks=True)
        load = os.getloadavg()[0]
        start = time.monotonic()
        sweep = [str(ROOT / "scripts" / "lr_sweep.py"), "--jobs", str(jobs), "--lr", *args.lr]
        sh(repo, sys.executable, *sweep)
        took = time.monotonic() - start
        after = os.getloadavg()[0]
        print(
            f"--jobs {jobs}: {took:.0f} s for {len(args.lr)} rates "
            f"(load average {load:.1f} before, {after:.1f} after)",
            flush=True,
        )


if __name__ == "__main__":
    main()

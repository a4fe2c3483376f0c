"""A copy of this repository's code and settings, without outputs, for tests that run DVC."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_repo(dest: Path) -> Path:
    """Copy every tracked or new (not ignored) file into `dest`, leaving out the committed
    outputs (metrics/, plots/, dvc.lock) so that `dvc repro` there starts from nothing."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file() and not name.startswith(("metrics/", "plots/")) and name != "dvc.lock":
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dvc ARGS` in the copy at `root`, running its own code with this interpreter's DVC."""
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(root / "src"),
        "DVC_SITE_CACHE_DIR": str(root / ".dvc" / "tmp" / "site_cache"),
    }
    return subprocess.run(["dvc", *args], cwd=root, env=env, capture_output=True, text=True)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

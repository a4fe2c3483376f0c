"""A copy of this repository's code and settings, without outputs, for tests that run DVC."""

import shutil
import subprocess
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

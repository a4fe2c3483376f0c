"""Metrics and params changes between two git revisions, as Markdown for review.

    python scripts/review.py                 # HEAD against the workspace
    python scripts/review.py main HEAD       # what a branch changes
    python scripts/review.py main HEAD --all # unchanged metrics too

Prints `dvc metrics diff --md` and `dvc params diff --md` under headings. Metrics JSON is
committed (cache: false), so this needs git history only, no DVC remote. Only the standard
library and dvc are needed, so CI can run it without the project's other packages.
"""

import argparse
import os
import subprocess
import sys

MARKER = "<!-- dvc-review -->"  # lets the pull-request workflow find its own comment


def dvc_diff(kind: str, old: str, new: str | None, show_all: bool) -> str:
    args = [sys.executable, "-m", "dvc", kind, "diff", "--md", old]
    if new:
        args.append(new)
    if show_all:
        args.append("--all")
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, DVC_NO_ANALYTICS="1"),
    )
    if result.returncode != 0:
        raise RuntimeError(f"dvc {kind} diff failed: {result.stderr.strip() or result.stdout}")
    return result.stdout.strip()


def review(old: str, new: str | None, show_all: bool = False) -> str:
    target = new or "workspace"
    parts = [MARKER, f"## DVC review: `{old}` → `{target}`", ""]
    for kind, title in (("metrics", "Metrics"), ("params", "Parameters")):
        body = dvc_diff(kind, old, new, show_all)
        rows = [line for line in body.splitlines() if line.startswith("|")]
        if len(rows) <= 2:  # nothing, or a header and its rule with no row under them
            body = f"No {kind} changed."
        parts += [f"### {title}", "", body, ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", nargs="?", default="HEAD", help="base revision (default HEAD)")
    parser.add_argument("new", nargs="?", help="revision to compare (default: the workspace)")
    parser.add_argument("--all", action="store_true", help="list unchanged metrics and params")
    args = parser.parse_args(argv)
    try:
        print(review(args.old, args.new, args.all))
    except (RuntimeError, OSError) as exc:
        print(f"review: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

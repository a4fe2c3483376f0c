"""Metrics, params and per-image prediction changes between two git revisions, as Markdown
for review.

    python scripts/review.py                 # HEAD against the workspace (e.g. after a rerun)
    python scripts/review.py main HEAD       # what a branch changes
    python scripts/review.py main HEAD --all # unchanged metrics too

Prints one table per model whose test predictions changed (accuracy before and after, the
change in points, and whether it is beyond run-to-run variation), the models whose
predictions did not change as one line, then `dvc params diff` and `dvc metrics diff` (the
headline metrics only). Why the test: float32 training differs in its last bits between
processors (oneDNN picks kernels by instruction set), which flips a few borderline test
images, so a metrics diff alone can't tell noise from a real change. An exact McNemar test
on the same test images (Holm-adjusted over the models whose predictions changed) can:
"within run-to-run variation" unless the number of images only one revision gets right is
lopsided beyond chance, then "changed".

Metrics and predictions are committed (cache: false), so this needs git history only, no
DVC remote. Only the standard library and dvc are needed, so CI can run it without the
project's other packages (hence a few lines of exact binomial test here, checked against
fruitveg.evaluation.statistics.mcnemar_exact in tests/evaluation/test_review.py).
"""

import argparse
import csv
import io
import math
import os
import subprocess
import sys
from pathlib import Path

MARKER = "<!-- dvc-review -->"  # lets the pull-request workflow find its own comment
PREDICTIONS = "metrics/eval"
SUFFIX = "_predictions.csv"
ALPHA = 0.05


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


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def prediction_files(rev: str | None) -> dict[str, str]:
    """Model name -> CSV text of its per-image predictions at `rev` (None: the workspace)."""
    if rev is None:
        found = sorted(Path(PREDICTIONS).glob(f"*{SUFFIX}"))
        return {p.name.removesuffix(SUFFIX): p.read_text(encoding="utf-8") for p in found}
    listed = git("ls-tree", "-r", "--name-only", rev, "--", PREDICTIONS).split()
    return {
        Path(name).name.removesuffix(SUFFIX): git("show", f"{rev}:{name}")
        for name in listed
        if name.endswith(SUFFIX)
    }


def outcomes(text: str) -> dict[str, tuple[str, str]]:
    """Image path -> (actual, predicted)."""
    return {r["path"]: (r["actual"], r["predicted"]) for r in csv.DictReader(io.StringIO(text))}


def mcnemar_p(only_old: int, only_new: int) -> float:
    """Exact two-sided McNemar p: 2 P(X <= min) for X ~ Binomial(discordant, 1/2), at most 1."""
    n = only_old + only_new
    tail = sum(math.comb(n, k) for k in range(min(only_old, only_new) + 1))
    return min(1.0, 2 * tail / 2**n)


def holm(p_values: list[float]) -> list[float]:
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def compare(old: dict[str, str], new: dict[str, str]) -> list[dict]:
    """Per model in both: images, predictions changed, accuracies, only-old/only-new right,
    p and verdict. Holm adjusts over the models whose predictions changed (the others have
    no discordant image, nothing to test)."""
    rows = []
    for model in sorted(old.keys() & new.keys()):
        a, b = outcomes(old[model]), outcomes(new[model])
        right_a = {k for k, (actual, pred) in a.items() if actual == pred}
        right_b = {k for k, (actual, pred) in b.items() if actual == pred}
        row = {
            "model": model,
            "n": len(b),
            "accuracy_old": len(right_a) / max(len(a), 1),
            "accuracy_new": len(right_b) / max(len(b), 1),
        }
        if a.keys() != b.keys() or any(a[k][0] != b[k][0] for k in a):
            rows.append(row | {"same_images": False, "changed_predictions": None, "p": 0.0})
            continue
        only_old, only_new = len(right_a - right_b), len(right_b - right_a)
        row |= {
            "same_images": True,
            "changed_predictions": sum(a[k][1] != b[k][1] for k in a),
            "only_old": only_old,
            "only_new": only_new,
            "p": mcnemar_p(only_old, only_new),
        }
        rows.append(row)
    tested = [r for r in rows if r["changed_predictions"] != 0]
    for row, adjusted in zip(tested, holm([r["p"] for r in tested]), strict=True):
        row["p_holm"] = adjusted
        noise = row["same_images"] and adjusted >= ALPHA
        row["verdict"] = "within run-to-run variation" if noise else "changed"
    for row in rows:
        row.setdefault("p_holm", 1.0)
        row.setdefault("verdict", "same predictions")
    return rows


def model_table(r: dict) -> list[str]:
    """One model's table: accuracy before and after, change in points, McNemar, verdict."""
    old, new = 100 * r["accuracy_old"], 100 * r["accuracy_new"]
    cells = [str(r["n"]), f"{old:.2f}", f"{new:.2f}", f"{new - old:+.2f}"]
    if r["same_images"]:
        cells += [
            str(r["changed_predictions"]), str(r["only_old"]), str(r["only_new"]),
            f"{r['p']:.3g}", f"{r['p_holm']:.3g}", r["verdict"],
        ]  # fmt: skip
    else:
        cells += ["", "", "", "", "", "changed (other test images)"]
    return [
        f"#### {r['model']}",
        "",
        "| test images | accuracy % old | new | change (points) | predictions changed "
        "| only old right | only new right | McNemar p | Holm p | verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        "| " + " | ".join(cells) + " |",
        "",
    ]


def predictions_section(old: str, new: str | None) -> str:
    old_files, new_files = prediction_files(old), prediction_files(new)
    rows = compare(old_files, new_files)
    lines = []
    for r in rows:
        if r["verdict"] != "same predictions":
            lines += model_table(r)
    same = [r["model"] for r in rows if r["verdict"] == "same predictions"]
    if same:
        lines.append(f"Same prediction for every test image: {', '.join(same)}.")
    for side, names in (("old", old_files.keys() - new_files.keys()),
                        ("new", new_files.keys() - old_files.keys())):  # fmt: skip
        if names:
            lines.append(f"Predictions only in the {side} revision: {', '.join(sorted(names))}.")
    changed = [r["model"] for r in rows if r["verdict"] == "changed"]
    if not rows:
        summary = "No model's predictions in both revisions."
    elif changed:
        summary = f"**Changed**: {', '.join(changed)}."
    else:
        summary = "**No model changed beyond run-to-run variation.**"
    return "\n".join([summary, "", *lines]).rstrip()


def review(old: str, new: str | None, show_all: bool = False) -> str:
    target = new or "workspace"
    parts = [
        MARKER,
        f"## DVC review: `{old}` → `{target}`",
        "",
        "### Test predictions per model: noise or change?",
        "",
        f"Exact McNemar test on the same test images, Holm-adjusted over the models whose "
        f"predictions changed, α = {ALPHA}.",
        "",
        predictions_section(old, new),
        "",
    ]
    for kind, title in (("params", "Parameters"), ("metrics", "Headline metrics")):
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

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

Where a model's training facts differ between the two sides (precision, oneDNN's
instruction set, XLA, threads, versions: fruitveg.core.trained_with, in each model's
metrics/eval/<model>_details.json), it says so beside its predictions: the same params can
give other numbers under other facts.

Metrics and predictions are committed (cache: false), so this needs git history only, no
DVC remote. Only the standard library and dvc are needed, so CI can run it without the
project's other packages: the McNemar test and Holm's adjustment come from this checkout's
fruitveg.evaluation.paired and the facts from fruitveg.core.trained_with, both standard
library only. Run it from anywhere inside the repository: it works from the folder above
that holds dvc.yaml.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's package

from fruitveg.core import trained_with  # noqa: E402
from fruitveg.evaluation.paired import holm, mcnemar_p  # noqa: E402

MARKER = "<!-- dvc-review -->"  # lets the pull-request workflow find its own comment
EVAL = "metrics/eval"
SUFFIX = "_predictions.csv"
DETAILS = "_details.json"
COLUMNS = ("path", "actual", "predicted")
ALPHA = 0.05


class ReviewError(RuntimeError):
    """An input of the review is missing or malformed; the message names it."""


def repository_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding dvc.yaml: where git and DVC paths are
    read from, whatever folder the review was started in."""
    for folder in (start, *start.parents):
        if (folder / "dvc.yaml").is_file():
            return folder
    raise ReviewError(f"no dvc.yaml in {start} or any folder above it: run inside the repository")


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


def git(*args: str) -> bytes:
    result = subprocess.run(["git", *args], capture_output=True)
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip()
        raise ReviewError(f"git {' '.join(args)} failed: {error}")
    return result.stdout


def eval_files(rev: str | None, suffix: str) -> dict[str, tuple[str, str]]:
    """Model name -> (where, text) of each metrics/eval/<model><suffix> at `rev` (None: the
    workspace); `where` names the file in messages."""
    if rev is None:
        found = {p.as_posix(): p.read_bytes() for p in sorted(Path(EVAL).glob(f"*{suffix}"))}
    else:  # paths relative to this folder, which may be below git's top level
        listed = git("ls-tree", "-r", "--name-only", "-z", rev, "--", EVAL).split(b"\0")
        names = [n.decode("utf-8", "surrogateescape") for n in listed if n]
        found = {
            f"{rev}:{name}": git("show", f"{rev}:./{name}")
            for name in names
            if name.endswith(suffix)
        }
    return {
        Path(where).name.removesuffix(suffix): (where, decode(where, data))
        for where, data in found.items()
    }


def decode(where: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReviewError(
            f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def outcomes(text: str, where: str) -> dict[str, tuple[str, str]]:
    """Image path -> (actual, predicted), from a predictions CSV that must hold them all."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ReviewError(f"{where}: no column {', '.join(missing)} in its header line")
        found: dict[str, tuple[str, str]] = {}
        for row in reader:
            path, actual, predicted = (row[c] for c in COLUMNS)
            if actual is None or predicted is None:
                raise ReviewError(f"{where}: line {reader.line_num} has too few fields")
            if path in found:
                raise ReviewError(f"{where}: line {reader.line_num}: image {path!r} listed twice")
            found[path] = (actual, predicted)
    except csv.Error as exc:
        raise ReviewError(f"{where}: line {reader.line_num}: not valid CSV: {exc}") from None
    return found


def prediction_files(rev: str | None) -> dict[str, dict[str, tuple[str, str]]]:
    """Model name -> its per-image outcomes at `rev` (None: the workspace)."""
    return {m: outcomes(text, where) for m, (where, text) in eval_files(rev, SUFFIX).items()}


def training_facts(rev: str | None) -> dict[str, dict | None]:
    """Model name -> what it was trained with (fruitveg.core.trained_with), None where its
    details predate the record."""
    facts = {}
    for model, (where, text) in eval_files(rev, DETAILS).items():
        try:
            details = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReviewError(f"{where}: not valid JSON: {exc}") from None
        facts[model] = details.get(trained_with.KEY) if isinstance(details, dict) else None
    return facts


def compare(
    old: dict[str, dict[str, tuple[str, str]]], new: dict[str, dict[str, tuple[str, str]]]
) -> list[dict]:
    """Per model in both: images, predictions changed, accuracies, only-old/only-new right,
    p and verdict. Holm adjusts over the models whose predictions changed (the others have
    no discordant image, nothing to test)."""
    rows = []
    for model in sorted(old.keys() & new.keys()):
        a, b = old[model], new[model]
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


def facts_lines(model: str, old: dict | None, new: dict | None) -> list[str]:
    """What a model was trained with, where the two sides differ (nothing where they agree)."""
    if (old is None) != (new is None):  # one side predates the record: the other's in full
        side, recorded = ("old", new) if old is None else ("new", old)
        facts = "; ".join(trained_with.summary({model: recorded}))
        return [f"Trained with: not recorded in the {side} revision; the other: {facts}.", ""]
    changes = trained_with.differences(old, new)
    return [f"Trained with, old → new: {'; '.join(changes)}.", ""] if changes else []


def predictions_section(old: str, new: str | None) -> str:
    old_files, new_files = prediction_files(old), prediction_files(new)
    old_facts, new_facts = training_facts(old), training_facts(new)
    rows = compare(old_files, new_files)
    lines = []
    for r in rows:
        facts = facts_lines(r["model"], old_facts.get(r["model"]), new_facts.get(r["model"]))
        if r["verdict"] != "same predictions":
            lines += model_table(r) + facts
        elif facts:
            lines += [f"#### {r['model']}", "", "Same predictions.", *facts]
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
        os.chdir(repository_root(Path.cwd()))
        print(review(args.old, args.new, args.all))
    except (RuntimeError, OSError) as exc:
        print(f"review: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

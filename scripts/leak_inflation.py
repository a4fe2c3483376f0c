"""How much the given split's leak inflates each model's test accuracy, as DVC experiments.

    python scripts/leak_inflation.py                             # every model
    python scripts/leak_inflation.py --models cnn cnn_attention --jobs 2
    python scripts/leak_inflation.py --show leak-given leak-resplit   # the table only

Queues two experiments of the same images: `leak-given`, the split as the data came
(`-S data.split=given`, and `-S layout.dedupe=false` so its leaked copies stay in train, as
the study had them; --keep-dedupe leaves layout.dedupe as params.yaml has it) and
`leak-resplit`, the leakage-free resplit (`-S data.split=resplit`: duplicate groups never
straddle two splits). Only evaluate@<model> of the models named runs, with what it needs;
each --set is another -S of both. Then prints, per model, both test accuracies with their
exact 95 % intervals, the difference, and on the test images the two runs share (the same
bytes in both layouts, from DVC's cache) an exact McNemar test of the paired outcomes.
Writes the table to plots/sweeps/leak_inflation.md. Run from the repository root.
"""

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _experiments import (
    SweepError,
    chosen_models,
    dvc,
    evaluated_here,
    existing_names,
    git_show,
    headline,
    lock,
    param,
    queue_experiment,
    run_queue,
    show,
    table,
    unique_name,
)

from fruitveg.core import params as P
from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import AUDIT_DUPLICATES
from fruitveg.evaluation.statistics import CONFIDENCE, exact_interval, mcnemar_exact

ARMS = ("given", "resplit")
OUT = Path("plots/sweeps")
QUEUE_LOG = Path(".dvc/tmp/leak_inflation_queue.log")


@dataclass(frozen=True)
class Arm:
    """One model's test result in one experiment."""

    accuracy: float
    low: float
    high: float
    correct: dict[str, bool]  # test image (the md5 of its layout file, else its path) -> right?
    by_path: dict[str, bool] = field(default_factory=dict)  # its path in the predictions


@dataclass(frozen=True)
class Paired:
    shared: int  # test images in both runs
    given_only: int  # right in the given split's run only
    resplit_only: int
    p: float  # exact McNemar, two-sided


def check_models(params: dict[str, Any], names: list[str] | None) -> dict[str, str]:
    """Model -> task, for the models named (each a key of params.yaml models:), else all."""
    chosen = chosen_models(params, names, "compare")
    return {m: str(block.get("task", "multiclass")) for m, block in chosen.items()}


def arm_settings(arm: str, keep_dedupe: bool, sets: list[str]) -> list[str]:
    settings = [f"data.split={arm}"]
    if arm == "given" and not keep_dedupe:
        settings.append("layout.dedupe=false")  # the leaked copies stay in train
    return [*settings, *sets]


def queue(models: list[str], keep_dedupe: bool, sets: list[str]) -> dict[str, str]:
    """Arm -> the name of its queued experiment (leak-given, leak-resplit; -2... on reruns)."""
    taken = existing_names()
    targets = [f"evaluate@{m}" for m in models]
    names = {}
    for arm in ARMS:
        name = unique_name(f"leak-{arm}", taken)
        settings = arm_settings(arm, keep_dedupe, sets)
        queue_experiment(name, settings, targets)
        print(f"queued {name}: {' '.join(settings)}", flush=True)
        names[arm] = name
    return names


def layout_test_files(locked: dict[str, Any], task: str, cache: Path | None) -> dict[str, str]:
    """Test image path (as the predictions name it) -> md5 of its layout file, from the
    layout's directory listing in DVC's cache; {} where the cache doesn't have it."""
    if cache is None:
        return {}
    layout = f"data/layouts/{task}"
    md5 = next(
        (
            out.get("md5")
            for stage in (locked.get("stages") or {}).values()
            for out in stage.get("outs") or []
            if out.get("path") == layout
        ),
        None,
    )
    if not md5:
        return {}
    listing = cache / "files" / "md5" / md5[:2] / md5[2:]
    try:
        entries = json.loads(listing.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        e["relpath"].removeprefix("test/"): e["md5"]
        for e in entries
        if str(e.get("relpath", "")).startswith("test/")
    }


def outcomes(predictions_csv: str, identity: dict[str, str]) -> dict[str, bool]:
    """Test image -> predicted right, keyed by content (md5) where known, else by path."""
    rows = csv.DictReader(io.StringIO(predictions_csv))
    return {
        identity.get(r["path"], f"path:{r['path']}"): r["actual"] == r["predicted"] for r in rows
    }


def arm_result(
    data: dict[str, Any], locked: dict[str, Any], model: str, task: str, cache: Path | None,
    predictions: str | None,
) -> Arm | None:  # fmt: skip
    """A model's result in one experiment; None where the run did not evaluate it on its
    own data (left out, failed, or metrics missing)."""
    m = headline(data, model)
    if not evaluated_here(locked, model):
        return None  # left out of this run: its metrics are the baseline's
    if not all(k in m for k in ("accuracy", "acc_low", "acc_high")):
        return None
    if not predictions:
        return Arm(m["accuracy"], m["acc_low"], m["acc_high"], {})
    correct = outcomes(predictions, layout_test_files(locked, task, cache))
    by_path = outcomes(predictions, {})
    by_path = {k.removeprefix("path:"): v for k, v in by_path.items()}
    return Arm(m["accuracy"], m["acc_low"], m["acc_high"], correct, by_path)


def leaked_names(duplicates_csv: str) -> set[str]:
    """Layout file names (<class>__<stem>.jpg) of the test images the audit found copied
    into train or validation (metrics/audit/duplicates.csv)."""
    return {
        f"{r['class']}__{Path(r['file']).stem}.jpg"
        for r in csv.DictReader(io.StringIO(duplicates_csv))
        if r.get("split") == "test" and r.get("leaks_test") == "True"
    }


def without_leaked(arm: Arm, leaked: set[str]) -> tuple[int, int]:
    """(right, images) on the arm's test images that have no copy in train/validation."""
    clean = [right for path, right in arm.by_path.items() if Path(path).name not in leaked]
    return sum(clean), len(clean)


def paired(given: Arm, resplit: Arm) -> Paired | None:
    """The exact McNemar test on the test images both runs hold (same content)."""
    shared = sorted(
        k for k in given.correct.keys() & resplit.correct.keys() if not k.startswith("path:")
    )
    if not shared:
        return None
    a = [given.correct[k] for k in shared]
    b = [resplit.correct[k] for k in shared]
    given_only, resplit_only, p = mcnemar_exact(a, b)
    return Paired(len(shared), given_only, resplit_only, p)


def unmatched(arm: Arm) -> bool:
    """Whether some test image of the arm could not be identified by content."""
    return any(k.startswith("path:") for k in arm.correct)


def inflation_table(
    results: dict[str, dict[str, Arm | None]], leaked: set[str] | None = None
) -> str:
    """Per model: both accuracies [exact interval], the given split's without its leaked
    test images (where the audit's list is known), the difference and the paired test."""

    def acc(a: Arm | None) -> str:
        if a is None:
            return "-"
        return f"{100 * a.accuracy:.1f} [{100 * a.low:.1f}, {100 * a.high:.1f}]"

    rows = []
    for model, arms in results.items():
        g, r = arms.get("given"), arms.get("resplit")
        clean, share = "-", "-"
        if g is not None and g.by_path and leaked is not None:
            k, n = without_leaked(g, leaked)
            if n:
                low, high = exact_interval(k, n)
                clean = f"{100 * k / n:.1f} [{100 * low:.1f}, {100 * high:.1f}] of {n}"
                share = f"{100 * (g.accuracy - k / n):+.1f}"
        diff = "-" if g is None or r is None else f"{100 * (g.accuracy - r.accuracy):+.1f}"
        test = paired(g, r) if g is not None and r is not None else None
        if test is not None:
            pair = f"{test.shared}: {test.given_only} / {test.resplit_only}, p = {test.p:.3g}"
        elif g is None or r is None:
            pair = "-"
        elif unmatched(g) or unmatched(r):
            pair = "unknown (a layout is not in DVC's cache)"
        else:
            pair = "none shared"
        rows.append((model, acc(g), clean, share, acc(r), diff, pair))
    header = (
        "model",
        "given split",
        "given, leaked test images left out",
        "their share",
        "leakage-free resplit",
        "given - resplit",
        "shared test images: right in given only / resplit only, McNemar",
    )
    note = (
        f"Test accuracy %, [{round(100 * CONFIDENCE)} % exact (Clopper-Pearson) interval]; "
        "the differences in points. Leaked: the test images the audit found copied into "
        f"train or validation ({'unknown' if leaked is None else len(leaked)}). The paired "
        "test (exact McNemar, two-sided) is on the test images both runs hold, matched by "
        "the bytes of their layout files."
    )
    return table(header, rows) + "\n\n" + note


def cache_dir() -> Path | None:
    found = dvc("cache", "dir", check=False).stdout.strip()
    return Path(found) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", help="keys of params.yaml models: (default all)")
    parser.add_argument("--keep-dedupe", action="store_true", help="the given arm as configured")
    parser.add_argument("--set", action="append", default=[], help="another -S key=value")
    parser.add_argument("--jobs", type=int, default=1, help="queue workers (default 1)")
    parser.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
    parser.add_argument("--show", nargs=2, metavar=("GIVEN", "RESPLIT"), help="run nothing")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the table ({OUT})")
    args = parser.parse_args(argv)
    try:
        tasks = check_models(P.load(), args.models)
        failed = []
        if args.show:
            names = dict(zip(ARMS, args.show, strict=True))
        else:
            for text in args.set:
                if "=" not in text or text.startswith(("data.split=", "=")):
                    raise SweepError(f"--set {text!r}: expected key=value, not data.split")
            names = queue(list(tasks), args.keep_dedupe, args.set)
            states = run_queue(list(names.values()), max(args.jobs, 1), args.timeout, QUEUE_LOG)
            failed = [n for n, s in states.items() if s != "Success"]
        found = show()
        missing = [n for n in names.values() if n not in found]
        if missing:
            raise SweepError(f"no experiment named {', '.join(missing)} (see `dvc exp list`)")
        for arm, name in names.items():
            if param(found[name], "data.split") not in (arm, None if arm == "given" else arm):
                raise SweepError(f"{name}: data.split is not {arm}")
        cache = cache_dir()
        results: dict[str, dict[str, Arm | None]] = {}
        for model, task in tasks.items():
            results[model] = {}
            for arm, name in names.items():
                data = found[name]
                csv_text = git_show(str(data.get("rev")), f"metrics/eval/{model}_predictions.csv")
                results[model][arm] = arm_result(data, lock(data), model, task, cache, csv_text)
        given_rev = str(found[names["given"]].get("rev"))
        duplicates = git_show(given_rev, AUDIT_DUPLICATES.as_posix())
        text = inflation_table(results, None if duplicates is None else leaked_names(duplicates))
        print()
        print(text)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "leak_inflation.md").write_text(text + "\n", encoding="utf-8")
        print(f"\n{args.out / 'leak_inflation.md'}")
        if failed:
            raise SweepError(f"failed: {', '.join(failed)}; see `dvc queue logs <name>`")
    except (SweepError, PipelineError, OSError) as exc:
        print(f"leak_inflation: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every model's test accuracy as the synthetic data gets harder, as DVC experiments.

    python scripts/difficulty_sweep.py                          # levels 0 1 2 3, every model
    python scripts/difficulty_sweep.py --models cnn cnn_attention --levels 0 2 4 --jobs 2
    python scripts/difficulty_sweep.py --models cnn --set layout.image_size=32 \\
        --set models.cnn.epochs=3                               # a cheap first look
    python scripts/difficulty_sweep.py --traits occlusion --levels 0 5 # one trait alone
    python scripts/difficulty_sweep.py --show difficulty-0 difficulty-2   # table and PNG only

Queues one experiment per level (`dvc exp run --queue -S ++data.synthetic.difficulty=<level>`,
with each --set as another -S, running only evaluate@<model> of the models named and what
they need), starts the queue (`dvc queue start --jobs N`), waits until it has drained and
prints each model's test accuracy per level with its exact 95 % interval, from the
metrics/eval/<model>.json the evaluate stage writes. Writes the table to
plots/sweeps/difficulty.md and a picture of accuracy against difficulty, every model a
line with interval bars, to plots/sweeps/difficulty.png. Needs the synthetic source and a
git commit to branch from; uncommitted changes go into the experiments. Run from the
repository root. What each level does: docs/difficulty.md.
"""

import argparse
import csv
import io
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _experiments import (
    SweepError,
    chosen_models,
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
from matplotlib.figure import Figure

from fruitveg.core import params as P
from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import eval_predictions_csv
from fruitveg.download.synthetic import MAX_DIFFICULTY, TRAITS
from fruitveg.evaluation.files import save_png
from fruitveg.evaluation.statistics import CONFIDENCE

KEY = "data.synthetic.difficulty"
TRAITS_KEY = "data.synthetic.traits"
DEFAULT_LEVELS = ("0", "1", "2", "3")
OUT = Path("plots/sweeps")
QUEUE_LOG = Path(".dvc/tmp/difficulty_sweep_queue.log")


@dataclass(frozen=True)
class Result:
    """One model's test accuracy at one level, with its exact interval (fractions)."""

    model: str
    level: float
    accuracy: float
    low: float
    high: float


@dataclass(frozen=True)
class Majority:
    """Always answering a task's commonest test label, at one level: the bar to clear."""

    task: str
    level: float
    accuracy: float


def level_text(level: float) -> str:
    """2.0 -> 2, 2.5 -> 2.5: short, and valid in a git ref name."""
    return f"{level:g}"


def parse_levels(texts: list[str]) -> list[float]:
    levels = []
    for text in texts:
        try:
            level = float(text)
        except ValueError:
            raise SweepError(f"--levels {text!r}: not a number") from None
        if not 0 <= level <= MAX_DIFFICULTY:
            raise SweepError(f"--levels {text!r}: a level is from 0 to {MAX_DIFFICULTY:g}")
        if level in levels:
            raise SweepError(f"--levels {text!r}: given twice")
        levels.append(level)
    return sorted(levels)


def parse_sets(texts: list[str]) -> list[str]:
    for text in texts:
        key, eq, _ = text.partition("=")
        if not eq or not key:
            raise SweepError(f"--set {text!r}: expected key=value, e.g. layout.image_size=32")
        if key in (KEY, TRAITS_KEY):
            raise SweepError(f"--set {text!r}: the sweep sets {key} itself (--levels, --traits)")
    return texts


def check_models(params: dict[str, Any], names: list[str] | None) -> list[str]:
    """The models to run: those named (each a key of params.yaml models:), else all."""
    models = list(chosen_models(params, names, "sweep"))
    if P.optional(params, "data.source", None) != "synthetic":
        raise SweepError("params.yaml: data.source must be synthetic (difficulty is its setting)")
    return models


def parse_traits(texts: list[str] | None) -> list[str]:
    """The traits to turn up (none named: all, as params.yaml has them)."""
    for text in texts or []:
        if text not in TRAITS:
            raise SweepError(f"--traits {text!r}: not a trait ({', '.join(TRAITS)})")
    return list(dict.fromkeys(texts or []))


def queue(
    levels: list[float], models: list[str], sets: list[str], traits: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """One experiment per level, named difficulty-<level>[-<trait>...] (-2... on reruns)."""
    taken = existing_names()
    targets = [f"evaluate@{m}" for m in models]
    # "++" (Hydra's add-or-override, which -S takes): params.yaml need not have the key
    chosen = [f"++{TRAITS_KEY}=[{','.join(traits)}]"] if traits else []
    queued = []
    for level in levels:
        base = "-".join(["difficulty", level_text(level), *traits])
        name = unique_name(base, taken)
        queue_experiment(name, [f"++{KEY}={level_text(level)}", *chosen, *sets], targets)
        print(f"queued {name}: {KEY} = {level_text(level)} {' '.join(chosen)}", flush=True)
        queued.append((name, level))
    return queued


def one_per_level(found: dict[str, dict[str, Any]], names: list[str]) -> None:
    """Refuse experiments that share a level: the table has one column per level, and one
    of them would be left out of it without a word."""
    by_level: dict[float, list[str]] = {}
    for name in names:
        if name in found:
            by_level.setdefault(float(param(found[name], KEY) or 0), []).append(name)
    for level, same in by_level.items():
        if len(same) > 1:
            traits = {n: param(found[n], TRAITS_KEY) or ["all"] for n in same}
            told = [f"{n} (traits: {', '.join(map(str, t))})" for n, t in traits.items()]
            raise SweepError(
                f"{' and '.join(told)} are all at difficulty {level_text(level)}: the table has "
                "one column per level; --show one of them (another in a run with its own --out)"
            )


def evaluated(
    found: dict[str, dict[str, Any]], locks: dict[str, dict[str, Any]], models: list[str]
) -> Iterator[tuple[dict[str, Any], float, str]]:
    """(experiment data, level, model) for each model that an experiment of `locks` (name ->
    its dvc.lock) evaluated on its own data; the level read from the experiment's own params
    (absent: 0, the data before difficulty existed)."""
    for name, locked in locks.items():
        data = found.get(name)
        if data is None:
            continue
        level = float(param(data, KEY) or 0)
        for model in models:
            if evaluated_here(locked, model):  # else left out: its metrics are the baseline's
                yield data, level, model


def results(
    found: dict[str, dict[str, Any]], locks: dict[str, dict[str, Any]], models: list[str]
) -> list[Result]:
    """Each model's accuracy in each experiment that evaluated it (see evaluated)."""
    out = []
    for data, level, model in evaluated(found, locks, models):
        m = headline(data, model)
        if all(k in m for k in ("accuracy", "acc_low", "acc_high")):
            out.append(Result(model, level, m["accuracy"], m["acc_low"], m["acc_high"]))
    return out


def majority_share(predictions_csv: str) -> float:
    """The share of the commonest true label among a predictions file's test images."""
    labels = [r["actual"] for r in csv.DictReader(io.StringIO(predictions_csv))]
    return max(Counter(labels).values()) / len(labels) if labels else float("nan")


def majorities(
    found: dict[str, dict[str, Any]],
    locks: dict[str, dict[str, Any]],
    models: list[str],
    read: Callable[[str, str], str | None] = git_show,
) -> list[Majority]:
    """Each task's majority-class accuracy at each level, from the test labels of the
    first model of the task that the experiment evaluated (read(rev, path) gives a file)."""
    out: dict[tuple[str, float], Majority] = {}
    for data, level, model in evaluated(found, locks, models):
        task = str(param(data, f"models.{model}.task") or "multiclass")
        if (task, level) in out:
            continue
        text = read(str(data.get("rev")), eval_predictions_csv(model).as_posix())
        if text:
            out[task, level] = Majority(task, level, majority_share(text))
    return list(out.values())


def accuracy_table(rows: list[Result], majority: Sequence[Majority] = ()) -> str:
    """Models down, levels across: accuracy % [exact interval]; - where a run is missing;
    then each task's majority-class accuracy."""
    levels = sorted({r.level for r in rows})
    models = list(dict.fromkeys(r.model for r in rows))
    cell = {(r.model, r.level): r for r in rows}
    share = {(m.task, m.level): m.accuracy for m in majority}
    header = ("model", *(f"difficulty {level_text(lv)}" for lv in levels))
    body = [
        (
            model,
            *(
                f"{100 * r.accuracy:.1f} [{100 * r.low:.1f}, {100 * r.high:.1f}]"
                if (r := cell.get((model, lv)))
                else "-"
                for lv in levels
            ),
        )
        for model in models
    ]
    for task in dict.fromkeys(m.task for m in majority):
        body.append(
            (
                f"majority class ({task})",
                *(f"{100 * a:.1f}" if (a := share.get((task, lv))) else "-" for lv in levels),
            )
        )
    note = f"Test accuracy %, [{round(100 * CONFIDENCE)} % exact (Clopper-Pearson) interval]."
    return table(header, body) + "\n\n" + note


def figure(rows: list[Result], majority: Sequence[Majority] = ()) -> Figure:
    """Accuracy against difficulty, one line per model with its interval bars (models
    nudged apart along x so their bars don't hide each other), each task's majority-class
    accuracy dashed."""
    fig = Figure(figsize=(8, 5), dpi=100)
    ax = fig.subplots()
    models = list(dict.fromkeys(r.model for r in rows))
    levels = sorted({r.level for r in rows})
    step = min(np.diff(levels), default=1.0)
    for i, model in enumerate(models):
        mine = sorted((r for r in rows if r.model == model), key=lambda r: r.level)
        nudge = (i - (len(models) - 1) / 2) * 0.06 * step
        x = np.array([r.level for r in mine]) + nudge
        acc = np.array([100 * r.accuracy for r in mine])
        err = np.array(
            [[a - 100 * r.low, 100 * r.high - a] for a, r in zip(acc, mine, strict=True)]
        )
        ax.errorbar(x, acc, yerr=err.T, marker="o", capsize=3, label=model)
    for task, colour in zip(
        dict.fromkeys(m.task for m in majority), ("grey", "black"), strict=False
    ):
        mine = sorted((m for m in majority if m.task == task), key=lambda m: m.level)
        ax.plot([m.level for m in mine], [100 * m.accuracy for m in mine], linestyle="--",
                color=colour, alpha=0.6, label=f"majority class ({task})")  # fmt: skip
    ax.set_xticks(levels, [level_text(lv) for lv in levels])
    ax.set_xlabel(f"{KEY} (0: the offline default's data; {MAX_DIFFICULTY:g}: every trait in full)")
    ax.set_ylabel(f"test accuracy, % ({round(100 * CONFIDENCE)} % exact interval)")
    ax.set_ylim(0, 100)
    ax.set_title("Test accuracy against difficulty")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def write(
    rows: list[Result], out: Path = OUT, majority: Sequence[Majority] = ()
) -> tuple[Path, Path]:
    """The table (Markdown) and the picture (PNG) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    md, png = out / "difficulty.md", out / "difficulty.png"
    md.write_text(accuracy_table(rows, majority) + "\n", encoding="utf-8")
    save_png(figure(rows, majority), png)
    return md, png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", nargs="+", default=list(DEFAULT_LEVELS), help="levels")
    parser.add_argument("--models", nargs="+", help="keys of params.yaml models: (default all)")
    parser.add_argument("--traits", nargs="+", help=f"turn up only these ({', '.join(TRAITS)})")
    parser.add_argument("--set", action="append", default=[], help="another -S key=value")
    parser.add_argument("--jobs", type=int, default=1, help="queue workers (default 1)")
    parser.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
    parser.add_argument("--show", nargs="+", metavar="EXPERIMENT", help="run nothing: read these")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the outputs ({OUT})")
    args = parser.parse_args(argv)
    try:
        models = check_models(P.load(), args.models)
        failed = []
        if args.show:
            names = list(args.show)
        else:
            levels, sets = parse_levels(args.levels), parse_sets(args.set)
            traits = parse_traits(args.traits)
            names = [n for n, _ in queue(levels, models, sets, traits)]
            states = run_queue(names, max(args.jobs, 1), args.timeout, QUEUE_LOG)
            failed = [n for n, s in states.items() if s != "Success"]
        found = show()
        missing = [n for n in names if n not in found]
        if args.show and missing:
            raise SweepError(f"no experiment named {', '.join(missing)} (see `dvc exp list`)")
        one_per_level(found, names)
        locks = {n: lock(found[n]) for n in names if n in found}
        rows = results(found, locks, models)
        if not rows:
            raise SweepError("no experiment has test metrics of these models")
        majority = majorities(found, locks, models)
        print()
        print(accuracy_table(rows, majority))
        md, png = write(rows, args.out, majority)
        print(f"\n{md}, {png}")
        if failed:
            raise SweepError(f"failed: {', '.join(failed)}; see `dvc queue logs <name>`")
    except (SweepError, PipelineError, OSError) as exc:
        print(f"difficulty_sweep: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learning-rate variants of one model as DVC experiments, run from the queue.

    python scripts/lr_sweep.py                       # cnn at 1e-3, 1e-4 and 1e-5
    python scripts/lr_sweep.py --model vgg16 --lr 1e-4 1e-5 1e-6
    python scripts/lr_sweep.py --jobs 2 --timeout 3600   # two workers, give up after an hour

Queues one experiment per rate (`dvc exp run --queue -S models.<model>.lr=<rate>`), starts
the queue (`dvc queue start`), waits until the queue has drained and prints one line per
experiment: its name, the rate, and the model's test accuracy and loss from
metrics/eval/<model>.json. Each variant reruns only train@<model> and what depends on it;
every other stage comes from DVC's cache. Needs a git commit to branch from; uncommitted
changes go into the experiments. Run from the repository root.
"""

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from _experiments import (
    BASELINE,
    SweepError,
    changed,
    existing_names,
    headline,
    lock,
    param,
    queue_experiment,
    ran_with,
    run_queue,
    show,
    unique_name,
)
from _experiments import table as experiment_table

from fruitveg.core import params as P
from fruitveg.core.errors import PipelineError

DEFAULT_MODEL = "cnn"
DEFAULT_RATES = ("1e-3", "1e-4", "1e-5")
QUEUE_LOG = Path(".dvc/tmp/lr_sweep_queue.log")
OTHER_BASELINE = "HEAD (other params)"  # HEAD's metrics, from other settings than the sweep's
# README.md's invocation: changed settings and headline metrics, no dependency hashes.
EXP_SHOW = "dvc exp show --only-changed --drop 'Created|.*/'"


def rate_name(rate: float) -> str:
    """1e-05 -> 1e-5, 0.0003 -> 3e-4: short, and valid in a git ref name."""
    mantissa, exponent = f"{rate:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def parse_rates(texts: list[str]) -> list[float]:
    rates = []
    for text in texts:
        try:
            rate = float(text)
        except ValueError:
            raise SweepError(f"--lr {text!r}: not a number") from None
        if not (math.isfinite(rate) and rate > 0):  # inf, 1e400 (inf too) and nan refused
            raise SweepError(f"--lr {text!r}: a learning rate must be finite and > 0")
        rates.append(rate)
    return rates


def queue(model: str, rates: list[float]) -> list[tuple[str, float]]:
    """Queue one experiment per rate, named <model>-lr-<rate> (with -2, -3... on reruns)."""
    taken = existing_names()
    queued = []
    for rate in rates:
        name = unique_name(f"{model}-lr-{rate_name(rate)}", taken)
        queue_experiment(name, [f"models.{model}.lr={rate!r}"])
        print(f"queued {name}: models.{model}.lr = {rate:g}", flush=True)
        queued.append((name, rate))
    return queued


def row(name: str, data: dict[str, Any], model: str) -> tuple[str, str, str, str]:
    lr, metrics = param(data, f"models.{model}.lr"), headline(data, model)
    acc, loss = metrics.get("accuracy"), metrics.get("loss")
    return (
        name,
        "-" if lr is None else f"{float(lr):g}",
        "-" if acc is None else f"{acc:.4f}",
        "-" if loss is None else f"{loss:.4f}",
    )


def baseline_label(found: dict[str, dict[str, Any]], names: list[str], model: str) -> str:
    """BASELINE, or a label saying it is none: where an experiment ran evaluate@<model>
    with other settings than HEAD's metrics came from (besides the rate), uncommitted
    params.yaml changes say, which then go into every experiment. Warns naming them."""
    stage, swept = f"evaluate@{model}", f"models.{model}.lr"
    head = ran_with(lock(found.get(BASELINE, {})), stage)
    if not head:  # HEAD never evaluated the model: its row shows no metrics anyway
        return BASELINE
    ran = [ran_with(lock(found[n]), stage) for n in names if n in found]
    differ = dict.fromkeys(d for settings in ran for d in changed(head, settings, swept))
    if not differ:
        return BASELINE
    print(
        f"lr_sweep: warning: the experiments ran {stage} with other settings than HEAD's "
        f"metrics came from ({'; '.join(differ)}; uncommitted changes go into experiments): "
        "the HEAD row is no baseline for them; commit params.yaml and rerun for one",
        file=sys.stderr,
    )
    return OTHER_BASELINE


def table(rows: list[tuple[str, ...]], model: str) -> str:
    header = ("experiment", f"models.{model}.lr", "test accuracy", "test loss")
    return experiment_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a key of params.yaml models:")
    parser.add_argument("--lr", nargs="+", default=list(DEFAULT_RATES), help="learning rates")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="queue workers running experiments at once (default 1; docs/remote.md)",
    )
    parser.add_argument("--timeout", type=float, help="give up waiting after this many seconds")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1:
            raise SweepError(f"--jobs {args.jobs}: at least one queue worker is needed")
        rates = parse_rates(args.lr)
        # The name goes into experiment names and -S keys: checked before anything is run.
        P.model_name(args.model, "--model")
        models = P.optional(P.load(), "models", None)
        if not isinstance(models, dict) or args.model not in models:
            known = ", ".join(models) if isinstance(models, dict) else "none"
            raise SweepError(f"params.yaml: unknown model {args.model!r} (models: has {known})")
        queued = queue(args.model, rates)
        names = [n for n, _ in queued]
        states = run_queue(names, args.jobs, args.timeout, QUEUE_LOG)
        found = show()
        print()
        label = baseline_label(found, names, args.model)
        rows = [row(label, found.get(BASELINE, {}), args.model)]
        rows += [row(n, found.get(n, {}), args.model) for n in names]
        print(table(rows, args.model))
        print(f"\nEvery headline metric that moved: {EXP_SHOW}")
        failed = [n for n, s in states.items() if s != "Success"]
        if failed:
            raise SweepError(f"failed: {', '.join(failed)}; see `dvc queue logs <name>`")
    except (SweepError, PipelineError, OSError) as exc:
        print(f"lr_sweep: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.errors import PipelineError

DEFAULT_MODEL = "cnn"
DEFAULT_RATES = ("1e-3", "1e-4", "1e-5")
QUEUE_LOG = Path(".dvc/tmp/lr_sweep_queue.log")
# Where DVC's process manager keeps a <name>.json (pid, returncode) per queue worker.
WORKER_DIR = Path(".dvc/tmp/exps/celery")
WORKER_START_S = 30.0  # a started worker shows up there well within this
RESTARTS = 3  # times workers are started again when they stop with experiments queued
WATCH_SECONDS = 1.0  # between looks at the workers' files: cheap, no dvc started
POLL_SECONDS = 15.0  # between `dvc queue status` calls where the workers can't be seen
BASELINE = "HEAD (baseline)"  # a space: never an experiment (git ref) name
# README.md's invocation: changed settings and headline metrics, no dependency hashes.
EXP_SHOW = "dvc exp show --only-changed --drop 'Created|.*/'"


class SweepError(RuntimeError):
    pass


def dvc_env() -> dict[str, str]:
    """The environment for dvc and its queue worker, which runs the stages' `python`."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    # The stages call plain `python`: make it this interpreter (the project's venv).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def dvc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        capture_output=True,
        text=True,
        env=dvc_env(),
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise SweepError(f"dvc {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


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
        if not rate > 0:
            raise SweepError(f"--lr {text!r}: a learning rate must be > 0")
        rates.append(rate)
    return rates


def existing_names() -> set[str]:
    listed = dvc("exp", "list", "--all-commits", "--name-only").stdout
    return {line.strip() for line in listed.splitlines() if line.strip()}


def queue(model: str, rates: list[float]) -> list[tuple[str, float]]:
    """Queue one experiment per rate, named <model>-lr-<rate> (with -2, -3... on reruns)."""
    taken = existing_names()
    queued = []
    for rate in rates:
        base = f"{model}-lr-{rate_name(rate)}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        dvc("exp", "run", "--queue", "--name", name, "--set-param", f"models.{model}.lr={rate!r}")
        print(f"queued {name}: models.{model}.lr = {rate:g}", flush=True)
        queued.append((name, rate))
    return queued


def queue_states() -> dict[str, str]:
    """Experiment name -> Queued / Running / Success / Failed, from `dvc queue status`."""
    states = {}
    for line in dvc("queue", "status").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] != "Task" and re.fullmatch(r"[0-9a-f]{7,}", fields[0]):
            states[fields[1]] = fields[-1]
    return states


def start_workers(jobs: int) -> None:
    QUEUE_LOG.parent.mkdir(parents=True, exist_ok=True)
    # The worker detaches but keeps the caller's output pipes open: a captured run would
    # never see end-of-file, so its output goes to a log file instead.
    with QUEUE_LOG.open("a", encoding="utf-8") as log:
        started = subprocess.run(
            [sys.executable, "-m", "dvc", "queue", "start", "--jobs", str(jobs)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=dvc_env(),
        )
    if started.returncode != 0:
        raise SweepError(f"dvc queue start failed; see {QUEUE_LOG}")


def live_workers() -> list[int]:
    """Process ids of the queue workers still running, from the files DVC's process manager
    keeps for each (<name>.json: pid, and returncode once the worker has exited)."""
    pids = []
    for info in WORKER_DIR.glob("dvc-exp-worker-*.json"):
        try:
            data = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being written: looked at again next time
            continue
        pid = data.get("pid") if isinstance(data, dict) else None
        if isinstance(pid, int) and data.get("returncode") is None:
            try:
                os.kill(pid, 0)
                pids.append(pid)
            except ProcessLookupError:
                pass
            except PermissionError:  # alive, another user's
                pids.append(pid)
    return pids


def run_queue(names: list[str], jobs: int, timeout: float | None) -> dict[str, str]:
    """Start the queue and wait until nothing is queued or running; return our tasks' states.

    While workers run, this watches their processes rather than asking `dvc queue status`:
    each status call broadcasts a control message through the queue's folder, and a worker
    that reads one before it is wholly written stops (kombu's file transport), leaving the
    rest of the queue waiting. If the workers are gone with experiments still queued, for
    that or any reason, they are started again, up to RESTARTS times.
    """
    start_workers(jobs)
    deadline = None if timeout is None else time.monotonic() + timeout
    restarts, seen, since = 0, False, time.monotonic()
    while True:
        wait = WATCH_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            busy = [n for n, s in queue_states().items() if s in ("Queued", "Running")]
            raise SweepError(f"queue still busy after {timeout:.0f} s: {', '.join(busy)}")
        if live_workers():
            seen = True
        elif seen or time.monotonic() - since > WORKER_START_S:
            states = queue_states()
            ours = {n: states.get(n, "?") for n in names}
            print(", ".join(f"{n}: {s}" for n, s in ours.items()), flush=True)
            if not any(s == "Running" for s in states.values()):
                queued = [n for n, s in states.items() if s == "Queued"]
                if not queued:
                    return ours
                if restarts == RESTARTS:
                    raise SweepError(
                        f"queue workers stopped {restarts + 1} times with {', '.join(queued)} "
                        f"still queued; see {WORKER_DIR}/*.out"
                    )
                restarts += 1
                print(f"queue workers stopped with {', '.join(queued)} still queued: "
                      f"starting them again ({restarts} of {RESTARTS})", flush=True)  # fmt: skip
                start_workers(jobs)
                seen, since = False, time.monotonic()
                continue
            # Running without a worker process we can see: DVC keeps its workers elsewhere
            # than WORKER_DIR; fall back to asking the queue, seldom (each call starts dvc).
            wait = POLL_SECONDS
        time.sleep(wait)


def experiments(show: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Name -> data of each experiment in `dvc exp show --json`, and BASELINE -> HEAD's data."""
    found = {}
    for baseline in show:
        if baseline.get("rev") != "workspace" and BASELINE not in found:
            found[BASELINE] = baseline.get("data") or {}
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("name") and rev.get("data"):
                    found[rev["name"]] = rev["data"]
    return found


def row(name: str, data: dict[str, Any], model: str) -> tuple[str, str, str, str]:
    params = (data.get("params") or {}).get("params.yaml", {}).get("data", {})
    lr = params.get("models", {}).get(model, {}).get("lr")
    metrics = (data.get("metrics") or {}).get(f"metrics/eval/{model}.json", {}).get("data", {})
    metrics = metrics.get(model) or {}  # headline metrics are nested under the model's name
    acc, loss = metrics.get("accuracy"), metrics.get("loss")
    return (
        name,
        "-" if lr is None else f"{float(lr):g}",
        "-" if acc is None else f"{acc:.4f}",
        "-" if loss is None else f"{loss:.4f}",
    )


def table(rows: list[tuple[str, ...]], model: str) -> str:
    header = ("experiment", f"models.{model}.lr", "test accuracy", "test loss")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in [header, *rows]
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


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
        rates = parse_rates(args.lr)
        if args.jobs < 1:
            raise SweepError(f"--jobs {args.jobs}: at least one queue worker is needed")
        # The name goes into experiment names and -S keys: checked before anything is run.
        P.model_name(args.model, "--model")
        models = P.optional(P.load(), "models", None)
        if not isinstance(models, dict) or args.model not in models:
            known = ", ".join(models) if isinstance(models, dict) else "none"
            raise SweepError(f"params.yaml: unknown model {args.model!r} (models: has {known})")
        queued = queue(args.model, rates)
        names = [n for n, _ in queued]
        states = run_queue(names, args.jobs, args.timeout)
        found = experiments(json.loads(dvc("exp", "show", "--json").stdout))
        print()
        rows = [row(n, found.get(n, {}), args.model) for n in [BASELINE, *names]]
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

"""What the sweep scripts share: DVC experiments queued, run and read back.

scripts/lr_sweep.py, scripts/difficulty_sweep.py and scripts/leak_inflation.py queue
`dvc exp run --queue` experiments, start the queue with some workers, wait for it to
drain and read every experiment's params and metrics from `dvc exp show --json`, and its
other files from its git commit.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from fruitveg.core import params as P

QUEUE_LOG = Path(".dvc/tmp/sweep_queue.log")
# Where DVC's process manager keeps a <name>.json (pid, returncode) per queue worker.
WORKER_DIR = Path(".dvc/tmp/exps/celery")
WORKER_START_S = 30.0  # a started worker shows up there well within this
RESTARTS = 3  # times workers are started again when they stop with experiments queued
WATCH_SECONDS = 1.0  # between looks at the workers' files: cheap, no dvc started
STOP_SECONDS = 30.0  # for the workers to exit after `dvc queue stop`
POLL_SECONDS = 15.0  # between `dvc queue status` calls where the workers can't be seen
BASELINE = "HEAD (baseline)"  # a space: never an experiment (git ref) name


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


def git_show(rev: str, path: str) -> str | None:
    """A file of a commit (an experiment's, say) as text, or None where it has none."""
    shown = subprocess.run(
        ["git", "show", f"{rev}:{path}"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return shown.stdout if shown.returncode == 0 else None


def existing_names() -> set[str]:
    listed = dvc("exp", "list", "--all-commits", "--name-only").stdout
    return {line.strip() for line in listed.splitlines() if line.strip()}


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or base-2, base-3... when an earlier sweep took it; the result is taken too."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def queue_experiment(name: str, settings: Sequence[str], targets: Sequence[str] = ()) -> None:
    """Queue one experiment: `settings` as -S key=value, only `targets` (and what they
    need) run where given."""
    args = ["exp", "run", "--queue", "--name", name]
    for setting in settings:
        args += ["--set-param", setting]
    dvc(*args, *targets)


def queue_states() -> dict[str, str]:
    """Experiment name -> Queued / Running / Success / Failed, from `dvc queue status`."""
    states = {}
    for line in dvc("queue", "status").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] != "Task" and re.fullmatch(r"[0-9a-f]{7,}", fields[0]):
            states[fields[1]] = fields[-1]
    return states


def start_workers(jobs: int, log_path: Path = QUEUE_LOG) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The worker detaches but keeps the caller's output pipes open: a captured run would
    # never see end-of-file, so its output goes to a log file instead.
    with log_path.open("a", encoding="utf-8") as log:
        started = subprocess.run(
            [sys.executable, "-m", "dvc", "queue", "start", "--jobs", str(jobs)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=dvc_env(),
        )
    if started.returncode != 0:
        raise SweepError(f"dvc queue start failed; see {log_path}")


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


def run_queue(
    names: list[str], jobs: int, timeout: float | None, log_path: Path = QUEUE_LOG
) -> dict[str, str]:
    """Start the queue and wait until nothing is queued or running; return our tasks' states.

    While workers run, this watches their processes rather than asking `dvc queue status`:
    each status call broadcasts a control message through the queue's folder, and a worker
    that reads one before it is wholly written stops (kombu's file transport), leaving the
    rest of the queue waiting. If the workers are gone with experiments still queued, for
    that or any reason, they are started again, up to RESTARTS times. Ctrl-C stops them
    (see stop) and raises SweepError saying what was stopped.
    """
    try:
        return _drain(names, jobs, timeout, log_path)
    except KeyboardInterrupt:
        raise SweepError(stop(names)) from None


def _drain(names: list[str], jobs: int, timeout: float | None, log_path: Path) -> dict[str, str]:
    start_workers(jobs, log_path)
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
                start_workers(jobs, log_path)
                seen, since = False, time.monotonic()
                continue
            # Running without a worker process we can see: DVC keeps its workers elsewhere
            # than WORKER_DIR; fall back to asking the queue, seldom (each call starts dvc).
            wait = POLL_SECONDS
        time.sleep(wait)


def stop(names: list[str]) -> str:
    """After Ctrl-C: kill our running experiments, remove our queued ones, stop the queue
    workers (DVC's queue commands); what was done, in words, with what is still running and
    the command to stop it where anything is."""
    parts = ["interrupted"]
    try:
        states = queue_states()
        running = [n for n in names if states.get(n) == "Running"]
        queued = [n for n in names if states.get(n) == "Queued"]
        # Queued first: a worker whose experiment is killed takes up the next at once.
        if queued and dvc("queue", "remove", *queued, check=False).returncode == 0:
            parts.append(f"removed {', '.join(queued)} from the queue")
        if running and dvc("queue", "kill", *running, check=False).returncode == 0:
            parts.append(f"killed {', '.join(running)}")
        dvc("queue", "stop", check=False)
        deadline = time.monotonic() + STOP_SECONDS
        while live_workers() and time.monotonic() < deadline:
            time.sleep(WATCH_SECONDS)
    except KeyboardInterrupt:  # a second Ctrl-C: say what may still run
        pass
    left = live_workers()
    states = queue_states()
    busy = [n for n in names if states.get(n) in ("Queued", "Running")]
    if not left and not busy:
        return "; ".join([*parts, "stopped the queue workers"])
    still = [f"queue workers {', '.join(map(str, left))}"] if left else []
    still += [f"{n} ({states[n]})" for n in busy]
    return "; ".join(
        [*parts, f"still running: {', '.join(still)}; stop them with `dvc queue stop --kill`"]
    )


def experiments(show: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Name -> data of each finished experiment in `dvc exp show --json`, and BASELINE ->
    HEAD's data.

    Each data dict holds "params" and "metrics" as DVC shows them, and "rev": the commit
    whose files the experiment left (for git_show).
    """
    found = {}
    for baseline in show:
        if baseline.get("rev") != "workspace" and BASELINE not in found:
            found[BASELINE] = (baseline.get("data") or {}) | {"rev": baseline.get("rev")}
        for exp in baseline.get("experiments") or []:
            # A failed (or unfinished) run shows its baseline's files: never its results.
            if (exp.get("executor") or {}).get("state") not in (None, "success"):
                continue
            for rev in exp.get("revs") or []:
                if rev.get("name") and rev.get("data"):
                    found[rev["name"]] = rev["data"] | {"rev": rev.get("rev")}
    return found


def chosen_models(
    params: dict[str, Any], names: list[str] | None, purpose: str
) -> dict[str, dict[str, Any]]:
    """The params.yaml block of each model named with --models, else of every model.

    Each name must be a key of models: and safe in experiment names and -S keys.
    """
    models = P.optional(params, "models", None)
    if not isinstance(models, dict) or not models:
        raise SweepError(f"params.yaml: no models: to {purpose}")
    for name in names or []:
        P.model_name(name, "--models")
        if name not in models:
            raise SweepError(
                f"params.yaml: unknown model {name!r} (models: has {', '.join(models)})"
            )
    return {name: models[name] or {} for name in (names or models)}


def show() -> dict[str, dict[str, Any]]:
    """Every experiment of the repository, as experiments() gives them."""
    return experiments(json.loads(dvc("exp", "show", "--json").stdout))


def param(data: dict[str, Any], key: str) -> Any:
    """A params.yaml setting of an experiment, by dotted key; None where absent."""
    node: Any = (data.get("params") or {}).get("params.yaml", {}).get("data", {})
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def headline(data: dict[str, Any], model: str) -> dict[str, Any]:
    """The model's headline test metrics (metrics/eval/<model>.json) in an experiment."""
    metrics = (data.get("metrics") or {}).get(f"metrics/eval/{model}.json", {}).get("data", {})
    return metrics.get(model) or {}  # nested under the model's name


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A Markdown table, columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        for r in [header, *rows]
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def lock(data: dict[str, Any]) -> dict[str, Any]:
    """The dvc.lock an experiment (an experiments() entry) left; {} where none."""
    text = git_show(str(data.get("rev")), "dvc.lock") if data.get("rev") else None
    loaded = yaml.safe_load(text) if text else None
    return loaded if isinstance(loaded, dict) else {}


def evaluated_here(lock: dict[str, Any], model: str) -> bool:
    """Whether evaluate@<model> of this dvc.lock read the layout its layout stage wrote.

    An experiment run for some models only keeps the other models' metrics, and their
    entries in dvc.lock, from its baseline: those evaluated other data than this run's.
    """
    stages = lock.get("stages") or {}
    written = {
        out["path"]: out.get("md5") for stage in stages.values() for out in stage.get("outs") or []
    }
    read = [
        dep for dep in (stages.get(f"evaluate@{model}") or {}).get("deps") or []
        if str(dep.get("path", "")).startswith("data/layouts/")
    ]  # fmt: skip
    return bool(read) and all(written.get(dep["path"]) == dep.get("md5") for dep in read)


def upstream(lock: dict[str, Any], stage: str) -> list[str]:
    """`stage` and every stage of a dvc.lock whose outputs it reads, directly or not."""
    stages = lock.get("stages") or {}
    producers = [
        (str(out.get("path", "")), name)
        for name, entry in stages.items()
        for out in entry.get("outs") or []
    ]
    found: list[str] = []
    todo = [stage]
    while todo:
        name = todo.pop()
        if name in found or name not in stages:
            continue
        found.append(name)
        for dep in stages[name].get("deps") or []:
            path = str(dep.get("path", ""))
            todo += [n for out, n in producers if path == out or path.startswith(f"{out}/")]
    return found


def _flat(values: Any, key: str) -> dict[str, Any]:
    if not isinstance(values, dict) or not values:
        return {key: values}
    return {k: v for part, sub in values.items() for k, v in _flat(sub, f"{key}.{part}").items()}


def ran_with(lock: dict[str, Any], stage: str) -> dict[str, Any]:
    """Dotted params.yaml key -> value, of every setting that `stage` and the stages it reads
    from ran with, as a dvc.lock recorded them."""
    stages = lock.get("stages") or {}
    found: dict[str, Any] = {}
    for name in upstream(lock, stage):
        for file, values in (stages[name].get("params") or {}).items():
            prefix = "" if file == "params.yaml" else f"{file}:"
            for key, value in (values or {}).items():
                found |= _flat(value, prefix + key)
    return found


def changed(base: dict[str, Any], other: dict[str, Any], ignore: str) -> list[str]:
    """`key base -> other` for each setting but `ignore` whose value differs."""
    keys = sorted((set(base) | set(other)) - {ignore})
    return [
        f"{k} {base.get(k, '(unset)')} -> {other.get(k, '(unset)')}"
        for k in keys
        if base.get(k) != other.get(k)
    ]

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

QUEUE_LOG = Path(".dvc/tmp/sweep_queue.log")
POLL_SECONDS = 3.0
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


def run_queue(
    names: list[str], jobs: int, timeout: float | None, log_path: Path = QUEUE_LOG
) -> dict[str, str]:
    """Start the queue and wait until nothing is queued or running; return our tasks' states."""
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
    deadline = None if timeout is None else time.monotonic() + timeout
    last = ""
    while True:
        states = queue_states()
        pending = [n for n, s in states.items() if s in ("Queued", "Running")]
        ours = {n: states.get(n, "?") for n in names}
        summary = ", ".join(f"{n}: {s}" for n, s in ours.items())
        if summary != last:
            print(summary, flush=True)
            last = summary
        if not pending:
            return ours
        if deadline is not None and time.monotonic() > deadline:
            raise SweepError(f"queue still busy after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(POLL_SECONDS)


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

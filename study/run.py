"""Run the study at full scale as one named DVC experiment.

    python study/run.py                 # dvc exp run --name study -S ... (study/study.yaml)
    python study/run.py --dry-run       # print the command only
    python study/run.py --name study-2 --allow-cpu

The settings live in study/study.yaml; each becomes a `-S key=value` over params.yaml, so
`dvc exp show` lists the experiment beside the offline default with every changed value.
"""

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from fruitveg.core.errors import PipelineError
from fruitveg.core.params import model_name

STUDY = Path(__file__).with_name("study.yaml")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'models': {'cnn': {'lr': 1e-4}}} -> {'models.cnn.lr': 1e-4}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{dotted}.")
        else:
            flat[dotted] = value
    return flat


def check_models(study: dict[str, Any]) -> None:
    """The study's model names become folders and -S keys: checked before anything runs."""
    for name in study.get("models") or {}:
        model_name(name, f"{STUDY}: models")


def command(name: str, settings: dict[str, Any]) -> list[str]:
    # JSON is YAML, so each value reaches params.yaml with its type (1e-05 stays a number).
    sets = [arg for key, value in settings.items() for arg in ("-S", f"{key}={json.dumps(value)}")]
    return ["dvc", "exp", "run", "--name", name, *sets]


def gpu_count() -> int:
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        if done.returncode == 0:
            return sum(line.startswith("GPU ") for line in done.stdout.splitlines())
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description="Run the study at full scale (dvc exp run).")
    ap.add_argument("--name", default="study", help="experiment name (default: study)")
    ap.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    ap.add_argument("--allow-cpu", action="store_true", help="run even without a GPU (days)")
    args = ap.parse_args()

    study = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    try:
        check_models(study)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings = flatten(study)
    cmd = command(args.name, settings)
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    if not args.allow_cpu and gpu_count() == 0:
        print(
            "error: no GPU found (nvidia-smi). The full study trains 7 models for 25 epochs "
            "at 256 px; on a CPU that takes days. Use a GPU machine, or pass --allow-cpu.",
            file=sys.stderr,
        )
        return 1
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())

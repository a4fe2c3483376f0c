"""Tiny layouts, settings and subprocess helpers for the model and training tests.

CPU is scarce (2 cores shared): every layout here is a few dozen small JPEGs, and tests
train in-process unless the subprocess is what they test.
"""

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO / "stages" / "train.py"

# params.yaml's models: section, shrunk: tiny batches and one epoch unless a test says so.
MODELS: dict[str, dict[str, Any]] = {
    "binary_cnn": {"task": "binary", "arch": "cnn", "attention": "none"},
    "cnn": {"task": "multiclass", "arch": "cnn", "attention": "none"},
    "cnn_attention": {"task": "multiclass", "arch": "cnn", "attention": "se"},
    "vgg16": {"task": "multiclass", "arch": "vgg16", "attention": "none"},
    "resnet50": {"task": "multiclass", "arch": "resnet50", "attention": "none"},
    "vgg16_attention": {"task": "multiclass", "arch": "vgg16", "attention": "se"},
    "resnet50_attention": {"task": "multiclass", "arch": "resnet50", "attention": "se"},
}


def make_params(**model_overrides: Any) -> dict[str, Any]:
    models = {}
    for name, base in MODELS.items():
        entry = {
            **base,
            "lr": 1.0e-3,
            "epochs": 1,
            "batch_size": 4,
            "optimizer": "adam",
            "dropout": 0.5,
        }
        if base["arch"] != "cnn":
            entry |= {"weights": "none", "freeze_backbone": False}
        models[name] = entry
    params = {
        "seed": 7,
        "layout": {"image_size": 32},
        "train": {
            "mixed_precision": "auto",
            "jit_compile": "auto",
            "distribute": "auto",
            "augment": False,
        },
        "models": models,
    }
    for model, changes in model_overrides.items():
        params["models"][model] |= changes
    return copy.deepcopy(params)


def write_layout(
    root: Path,
    task: str,
    labels: tuple[str, ...],
    counts: dict[str, int] | None = None,
    size: int = 32,
    seed: int = 0,
) -> Path:
    """data/layouts/<task>/<split>/<label>/*.jpg under root: a colour per label plus noise;
    the splits `counts` leaves out get these counts."""
    counts = {"train": 6, "validation": 3, "test": 2} | (counts or {})
    rng = np.random.default_rng(seed)
    layout = root / "data" / "layouts" / task
    for split, n in counts.items():
        for i, label in enumerate(labels):
            folder = layout / split / label
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array([(i * 97) % 256, (i * 57 + 80) % 256, (i * 31 + 160) % 256])
            for k in range(n):
                noise = rng.normal(0, 40, (size, size, 3))
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{split}_{k:03d}.jpg", quality=90)
    return layout


def env(cwd: Path, **extra: str) -> dict[str, str]:
    """This interpreter first on PATH; DVC state kept inside `cwd`; quiet TensorFlow."""
    return os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def run(
    cwd: Path, *args: str, check: bool = True, timeout: float = 600, **extra_env: str
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        args, cwd=cwd, env=env(cwd, **extra_env), capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def train_stage(cwd: Path, model: str, **kw) -> subprocess.CompletedProcess:
    """`python stages/train.py <model>` run in `cwd`, as DVC runs it."""
    return run(cwd, sys.executable, str(TRAIN_SCRIPT), model, **kw)


def write_params(root: Path, params: dict[str, Any]) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def history_values(path: Path) -> list[list[str]]:
    """A history CSV without its two time columns (which differ between any two runs)."""
    with path.open(newline="") as fh:
        return [row[:1] + row[3:] for row in csv.reader(fh)]

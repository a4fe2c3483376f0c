"""Reading params.yaml: the typed, checked helpers every stage's settings are built from.

Stage entry points read their own keys once, through these helpers, into frozen settings
objects; the library takes those objects and never sees the params dict. Every error
names the setting at fault.
"""

import math
import re
from pathlib import Path
from typing import Any

import yaml

from fruitveg.core import paths
from fruitveg.core.errors import PipelineError

# Model names become folder and file names (data/models/<name>/, plots/history/<name>.csv)
# and words of dvc.yaml's shell commands (`python stages/train.py ${key}`).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ParamError(PipelineError):
    """A setting in params.yaml is missing or invalid."""


class _Loader(yaml.SafeLoader):
    """PyYAML reads `1e-05` (YAML 1.2 float, as `dvc exp run -S` writes it) as a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load(path: Path = paths.PARAMS) -> dict[str, Any]:
    try:
        params = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)
    except FileNotFoundError:
        raise ParamError(f"{path}: file not found (run from the repository root)") from None
    except yaml.YAMLError as exc:
        raise ParamError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(params, dict):
        raise ParamError(f"{path}: expected a mapping of settings at the top level")
    return params


def get(params: dict[str, Any], key: str) -> Any:
    """Return the value at a dotted key such as 'layout.image_size'."""
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"params.yaml: missing setting '{key}'")
        node = node[part]
    return node


def optional(params: dict[str, Any], key: str, default: Any) -> Any:
    """The value at `key`, or `default` when the setting is absent."""
    try:
        return get(params, key)
    except ParamError:
        return default


def whole(params: dict[str, Any], key: str, minimum: int = 1) -> int:
    """A whole number >= minimum (true/false and 2.5 are refused)."""
    value = get(params, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParamError(f"params.yaml: '{key}' must be a whole number >= {minimum}, got {value!r}")
    return value


def seed(params: dict[str, Any]) -> int:
    """The pipeline's one random seed."""
    return whole(params, "seed", minimum=0)


def finite(
    params: dict[str, Any], key: str, low: float, high: float | None = None, *, low_ok: bool = False
) -> float:
    """A finite number above `low` (or equal, with low_ok) and below `high`."""
    value = get(params, key)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value >= low if low_ok else value > low) and (high is None or value < high):
        return float(value)
    bounds = f"{'>=' if low_ok else '>'} {low:g}" + ("" if high is None else f" and < {high:g}")
    raise ParamError(f"params.yaml: '{key}' must be a number {bounds}, got {value!r}")


def choice(params: dict[str, Any], key: str, options: tuple[Any, ...]) -> Any:
    """One of `options`; true/false are told apart from 1/0 (YAML writes both)."""
    value = get(params, key)
    if not any(value is o or (type(value) is type(o) and value == o) for o in options):
        shown = ", ".join(str(o).lower() if isinstance(o, bool) else str(o) for o in options)
        raise ParamError(f"params.yaml: '{key}' must be one of {shown}; got {value!r}")
    return value


def flag(params: dict[str, Any], key: str) -> bool:
    return choice(params, key, (True, False))


def model_name(name: Any, where: str = "params.yaml models") -> str:
    """A model name that is safe as a folder and file name: letters, digits, _ and -."""
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise ParamError(
            f"{where}: model name {name!r} must be 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit; rename it"
        )
    return name


def tasks(params: dict[str, Any]) -> tuple[str, ...]:
    """params.yaml `tasks`: the layouts built, each of paths.TASKS at most once (dvc.yaml's
    layout stage runs for every task; one left out writes an empty layout)."""
    value = get(params, "tasks")
    known = ", ".join(paths.TASKS)
    if not isinstance(value, list) or not value:
        raise ParamError(f"params.yaml: 'tasks' must be a list of some of {known}; got {value!r}")
    for item in value:
        if not isinstance(item, str) or item not in paths.TASKS:
            raise ParamError(
                f"params.yaml: 'tasks' holds {item!r}, which is not a task: list some of {known}"
            )
    if len(set(value)) < len(value):
        raise ParamError(f"params.yaml: 'tasks' lists a task twice: {value!r}")
    return tuple(value)

"""Reading params.yaml with errors that name the setting at fault."""

import math
import re
from pathlib import Path
from typing import Any

import yaml

from fruitveg import paths
from fruitveg.errors import PipelineError


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


def positive_int(params: dict[str, Any], key: str) -> int:
    value = get(params, key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParamError(f"params.yaml: '{key}' must be a whole number > 0, got {value!r}")
    return value


def choice(params: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
    value = get(params, key)
    if value not in options:
        raise ParamError(f"params.yaml: '{key}' must be one of {', '.join(options)}; got {value!r}")
    return value


def number(
    params: dict[str, Any], key: str, low: float, high: float | None = None, *, low_ok: bool = False
) -> float:
    """A finite number above `low` (or equal, with low_ok) and below `high`."""
    value = get(params, key)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value >= low if low_ok else value > low) and (high is None or value < high):
        return float(value)
    bounds = f"{'>=' if low_ok else '>'} {low:g}" + ("" if high is None else f" and < {high:g}")
    raise ParamError(f"params.yaml: '{key}' must be a number {bounds}, got {value!r}")

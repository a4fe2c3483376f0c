"""Reading params.yaml with errors that name the setting at fault."""

from pathlib import Path
from typing import Any

import yaml

from fruitveg import paths
from fruitveg.errors import PipelineError


class ParamError(PipelineError):
    """A setting in params.yaml is missing or invalid."""


def load(path: Path = paths.PARAMS) -> dict[str, Any]:
    try:
        params = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
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

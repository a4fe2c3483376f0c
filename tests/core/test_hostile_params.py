"""Every number of params.yaml, made NaN or infinite, and a seed that is not a whole number:
one clear ParamError naming the key, from whichever stage reads it, and no other error
(`db.retry_backoff_s: .inf` once ended in OverflowError)."""

import copy
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fruitveg.audit.settings import audit_settings
from fruitveg.core import params as P
from fruitveg.core.model_config import model_configs
from fruitveg.db.config import read_params
from fruitveg.download.settings import download_settings
from fruitveg.evaluation.settings import evaluate_settings
from fruitveg.explain.settings import explain_settings
from fruitveg.export.settings import export_settings
from fruitveg.layout.settings import layout_settings
from fruitveg.report.settings import report_settings
from fruitveg.split.settings import split_settings
from fruitveg.training.settings import train_options

REPO = Path(__file__).resolve().parents[2]
PARAMS = P.load(REPO / "params.yaml")


def readers(p: dict[str, Any]) -> Iterator[Callable[[], object]]:
    """Every stage's settings reader, as its entry point calls it (layout on disk aside)."""
    yield lambda: download_settings(p)
    yield lambda: download_settings(p | {"data": p["data"] | {"source": "kaggle"}})
    yield lambda: audit_settings(p)
    yield lambda: split_settings(p)
    yield lambda: split_settings(p | {"data": p["data"] | {"split": "resplit"}})
    for task in ("binary", "multiclass"):
        yield lambda task=task: layout_settings(p, task)
    yield lambda: model_configs(p)
    yield lambda: train_options(p)
    for name in p["models"]:
        yield lambda name=name: evaluate_settings(p, name)
        yield lambda name=name: export_settings(p, name)
    yield lambda: explain_settings(p)
    yield lambda: report_settings(p)
    yield lambda: read_params(p)


def numbers(tree: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from numbers(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{prefix}{key}"


def set_key(p: dict[str, Any], key: str, value: object) -> None:
    *parents, last = key.split(".")
    for part in parents:
        p = p[part]
    p[last] = value


def refusals(p: dict[str, Any]) -> list[str]:
    """The ParamError messages of every reader; any other exception fails the test."""
    found = []
    for read in readers(p):
        try:
            read()
        except P.ParamError as exc:
            found.append(str(exc))
    return found


def test_the_repository_params_are_accepted() -> None:
    assert refusals(copy.deepcopy(PARAMS)) == []


@pytest.mark.parametrize("key", sorted(numbers(PARAMS)))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_by_name(key: str, bad: float) -> None:
    p = copy.deepcopy(PARAMS)
    set_key(p, key, bad)
    found = refusals(p)
    assert found, f"{key}: {bad} accepted"
    assert all(f"'{key}'" in message or f"{key}:" in message for message in found), found


@pytest.mark.parametrize("bad", [42.5, 42.0, "42", True, -1, None, [42]])
def test_a_seed_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    p = copy.deepcopy(PARAMS)
    p["seed"] = bad
    found = refusals(p)
    assert len(found) >= 4  # download, audit, evaluate (each model), report ...
    assert all("'seed' must be a whole number >= 0" in message for message in found), found

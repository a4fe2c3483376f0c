"""The report's settings, read once from params.yaml, all checked.

The report stage builds a ReportSettings at its entry point; the rest of the report takes
that object and never sees the params dict. Every error names the setting at fault.
"""

from dataclasses import dataclass
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.model_config import ModelConfig, model_config, model_configs
from fruitveg.core.paths import SPLITS
from fruitveg.report.pairs import derived_pairs

PAIRS_KEY = "report.pairs"
SOURCES = ("synthetic", "kaggle", "local")  # data.source; the download stage checks the rest


@dataclass(frozen=True)
class ReportSettings:
    models: tuple[ModelConfig, ...]  # every model of params.yaml, in its order
    pairs: tuple[tuple[str, str], ...]  # (A, B) of each paired test, both in `models`
    source: str = "synthetic"  # data.source: where data/raw came from
    source_detail: str = ""  # what that source is, in words, from params.yaml

    def model(self, name: str) -> ModelConfig:
        return next(m for m in self.models if m.name == name)


def _explicit_pairs(params: dict[str, Any], raw: Any) -> list[tuple[str, str]]:
    """report.pairs as given: a list of [A, B] pairs of models of the same task."""
    if not isinstance(raw, list):
        raise P.ParamError(f"params.yaml: '{PAIRS_KEY}' must be a list of [model A, model B]")
    pairs: list[tuple[str, str]] = []
    for n, item in enumerate(raw, start=1):
        where = f"params.yaml: '{PAIRS_KEY}' item {n} {item!r}"
        if not (isinstance(item, list) and len(item) == 2):
            raise P.ParamError(f"{where}: expected [model A, model B]")
        configs = []
        for name in item:
            try:
                configs.append(model_config(params, name))
            except P.ParamError as exc:
                raise P.ParamError(f"{where}: {str(exc).removeprefix('params.yaml: ')}") from None
        a, b = configs
        if a.name == b.name:
            raise P.ParamError(f"{where}: a model can't be paired with itself")
        if a.task != b.task:
            raise P.ParamError(
                f"{where}: {a.name} ({a.task}) and {b.name} ({b.task}) differ in task, "
                "so they were tested on different images"
            )
        if (a.name, b.name) in pairs or (b.name, a.name) in pairs:
            raise P.ParamError(f"{where}: this pair is listed twice")
        pairs.append((a.name, b.name))
    return pairs


def _source_detail(params: dict[str, Any], source: str) -> str:
    """The data source in words, for the report's header."""
    if source == "kaggle":
        return f"the Kaggle dataset {P.get(params, 'data.kaggle_dataset')}"
    if source == "local":
        return f"the local folder {P.get(params, 'data.local_path')}"
    n = {k: P.get(params, f"data.synthetic.{k}") for k in ("train", "validation", "test", "leaks")}
    return (
        f"the generated stand-in dataset (seed {P.seed(params)}): {n['train']} train, "
        f"{n['validation']} validation and {n['test']} test images per class, "
        f"{n['leaks']} test pictures planted in train as leaks"
    )


def _split_detail(params: dict[str, Any]) -> str:
    """How the splits were made, for the header (the split stage checks the settings)."""
    if P.optional(params, "data.split", "given") != "resplit":
        return "; its own train/validation/test splits"
    fractions = P.optional(params, "data.split_fractions", {})
    fractions = fractions if isinstance(fractions, dict) else {}
    shown = " / ".join(f"{s} {fractions.get(s)}" for s in SPLITS)
    return (
        f"; split by the pipeline (data.split: resplit; {shown} of each class; seed "
        f"{P.seed(params)}), whole duplicate groups to one split, so no picture is in two"
    )


def report_settings(params: dict[str, Any]) -> ReportSettings:
    """Every model, and the pairs: report.pairs if it lists any, else derived from settings;
    the data source for the header."""
    models = model_configs(params)
    raw = P.optional(params, PAIRS_KEY, None)
    pairs = derived_pairs(models) if raw is None or raw == [] else _explicit_pairs(params, raw)
    source = P.choice(params, "data.source", SOURCES)
    detail = _source_detail(params, source) + _split_detail(params)
    return ReportSettings(tuple(models), tuple(pairs), source, detail)

"""The prediction command's settings: its arguments, and params.yaml's model block and
evaluate.threshold (so a binary model decides as evaluate did), read once."""

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fruitveg.core import params as P
from fruitveg.core.model_config import ModelConfig, model_config
from fruitveg.export.convert import FORMATS
from fruitveg.export.settings import cores

CHOICES = ("keras", *FORMATS)


@dataclass(frozen=True)
class PredictSettings:
    paths: tuple[Path, ...]
    model: ModelConfig
    fmt: str  # one of CHOICES
    top: int  # how many classes to list, most probable first
    json: bool  # JSON lines instead of text
    threshold: float  # binary models: P(second label) >= threshold predicts it
    threads: int  # TFLite interpreter threads


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fruitveg.predict",
        description="Classify photos with a trained model, preprocessed exactly as the "
        "layouts were (decode by content, EXIF orientation, RGB, resize, JPEG).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or folders")
    p.add_argument("--model", required=True, help="a model of params.yaml's models:, e.g. cnn")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=CHOICES,
        default="keras",
        help="the Keras model (default) or one of its TFLite exports (dvc repro export@MODEL)",
    )
    p.add_argument("--top", type=int, default=3, help="classes listed per image (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    return p


def predict_settings(argv: list[str], params: dict[str, Any]) -> PredictSettings:
    args = parser().parse_args(argv)
    if args.top < 1:
        parser().error(f"--top must be 1 or more, got {args.top}")
    return PredictSettings(
        paths=tuple(args.paths),
        model=model_config(params, P.model_name(args.model, "--model")),
        fmt=args.fmt,
        top=args.top,
        json=args.json,
        threshold=P.finite(params, "evaluate.threshold", 0.0, 1.0),
        threads=cores(),
    )

"""Atomic writers of the CSV tables and PNG pictures of evaluation and the report."""

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from fruitveg.core.atomic import atomic_file


def write_csv(target: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with atomic_file(target) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def save_png(fig: Figure, target: Path) -> None:
    with atomic_file(target, "wb") as fh:
        fig.savefig(fh, format="png", bbox_inches="tight")

"""The per-epoch history: written and read in one place, errors naming file and line."""

import math
from pathlib import Path

import pytest

from fruitveg.core import history

ROWS = [
    history.Epoch(1, "2026-11-28T08:00:00+00:00", "2026-11-28T08:00:10.5+00:00",
                  1.5, 0.25, 1.75, 0.5, 0.001),
    history.Epoch(2, "2026-11-28T08:00:20+00:00", "2026-11-28T08:00:30+00:00",
                  float("nan"), 0.5, 1.25, 0.75, 0.001),
]  # fmt: skip


def test_round_trip_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    history.write(path, ROWS)
    assert path.read_text().splitlines()[0] == ",".join(history.COLUMNS)
    back = history.read(path)
    assert back[0] == ROWS[0] and math.isnan(back[1].loss)
    assert history.train_seconds(back) == pytest.approx(20.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epoch,loss\n1,2\n", r"missing column\(s\) start_time"),
        (",".join(history.COLUMNS) + "\n", "no epochs recorded"),
        (",".join(history.COLUMNS) + "\n1,x,y,1,1,1,1,1\n", r"h.csv, line 2: Invalid isoformat"),
        (",".join(history.COLUMNS) + "\n2,2026-01-01,2026-01-01,1,1,1,1,1\n", "epochs must run"),
    ],
)
def test_malformed_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(history.HistoryError, match=message):
        history.read(path)
    with pytest.raises(history.HistoryError, match="not found"):
        history.read(tmp_path / "none.csv")

"""The audit's contact sheet shows the copies across splits or classes, most important first."""

import csv
import io
import shutil
import warnings
from pathlib import Path

from matplotlib.image import AxesImage
from matplotlib.text import Text
from PIL import Image

from fruitveg.audit.run import run_audit
from fruitveg.audit.sheet import sheet
from fruitveg.data.rawdata import scan

from .test_audit import SETTINGS

# Spaces, non-ASCII letters the default font can't draw, and what matplotlib would read
# as TeX (a parse error, if it tried)
ODD = "copy ä $x^$ 苹果.jpg"


def audited(raw: Path, out: Path) -> list[dict[str, str]]:
    """Run the audit on `raw`, its outputs under `out`; duplicates.csv's rows."""
    run_audit(SETTINGS, raw, out / "r.json", out / "d.csv", out / "s.png", out / "copies.png")
    with open(out / "d.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def drawn_without_warnings(fig) -> None:
    """Drawing is where a missing glyph warns and a TeX-like name fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png")


def test_sheet_shows_cross_class_then_leaking_groups(raw: Path, tmp_path: Path) -> None:
    # an exact copy of a test image in train, same class
    shutil.copy(raw / "test" / "apple" / "Image_1.jpg", raw / "train" / "apple" / ODD)
    # a test picture re-encoded smaller, filed under another class in train
    with Image.open(raw / "test" / "banana" / "Image_2.jpg") as im:
        im.resize((80, 80)).save(raw / "train" / "corn" / "again.jpg", quality=70)
    # a copy within train, same class: nothing for the sheet
    shutil.copy(raw / "train" / "apple" / "Image_2.jpg", raw / "train" / "apple" / "dup.jpg")
    rows = audited(raw, tmp_path)
    assert len({r["group"] for r in rows}) == 3  # what the audit found
    with Image.open(tmp_path / "copies.png") as png:
        assert png.size[1] > 400  # two rows of thumbnails, not the "no copies" note

    fig = sheet(rows, scan(raw))
    drawn_without_warnings(fig)
    shown = texts(fig)
    titles = [t for t in shown if t.startswith("group ")]
    assert len(titles) == 2
    assert any(t.startswith("Copies across splits or classes: 2 groups") for t in shown)
    assert "classes differ: banana / corn; a test image has a copy in train" in titles[0]
    assert titles[1].endswith(": a test image has a copy in train")
    assert "test · banana\nImage_2.jpg" in shown  # the copied test image first in its row
    assert "train · corn\nagain.jpg" in shown
    assert "train · apple\ncopy ä $x^$ \\u82f9\\u679c.jpg" in shown  # findable, escaped
    assert "exact: identical bytes" in shown
    assert not any("dup.jpg" in t for t in shown)
    evidence = next(r for r in rows if r["file"] == "train/corn/again.jpg")["evidence"]
    assert any(t.replace("\n", " ").startswith(evidence[:20]) for t in shown)
    assert len(fig.findobj(AxesImage)) == 4  # every member's thumbnail decoded

    capped = texts(sheet(rows, scan(raw), max_groups=1))
    assert "+1 more group" in capped
    assert sum(t.startswith("group ") for t in capped) == 1


def test_sheet_says_when_no_copies_cross_splits_or_classes(raw: Path, tmp_path: Path) -> None:
    shutil.copy(raw / "test" / "apple" / "Image_1.jpg", raw / "test" / "apple" / "again.jpg")
    rows = audited(raw, tmp_path)
    assert len(rows) == 2  # a copy within test: counted by the report, not a leak
    with Image.open(tmp_path / "copies.png") as png:
        assert png.size == (504, 72)
    fig = sheet(rows, scan(raw))
    assert any(t.startswith("No copies across splits or classes") for t in texts(fig))
    drawn_without_warnings(fig)

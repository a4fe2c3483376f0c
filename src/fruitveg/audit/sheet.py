"""The audit's contact sheet: the copies a reviewer should look at, one group per row.

Shown are the groups that matter for the study: copies filed under different classes (a
disputed label) and test or validation images with copies in another split (a leak).
Each member is a thumbnail titled with its split, class and file name, and under it how
it was joined to the group (duplicates.csv's `how` and `evidence`).
"""

import functools
import textwrap
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from fruitveg.core.atomic import atomic_file
from fruitveg.data.images import ImageError, decode
from fruitveg.data.rawdata import RawFile

MAX_GROUPS = 24  # rows; the rest are counted in the footer
MAX_MEMBERS = 6  # thumbnails per row; the rest are counted in the row's title
THUMB = 160  # px
# The sheet's geometry, in inches: each row a header line, then per member its title
# (two lines), its thumbnail and the evidence under it (up to four lines).
CELL, MARGIN, THUMB_IN = 2.4, 0.1, 1.95
MIN_CELLS = 4  # of width, for the titles
HEADER, TITLE, EVIDENCE = 0.3, 0.45, 0.7
ROW = HEADER + TITLE + THUMB_IN + EVIDENCE
TOP, FOOTER = 0.45, 0.35
SPLIT_ORDER = {"test": 0, "validation": 1, "train": 2}  # the copied image first
SPLIT_COLOUR = {"test": "tab:red", "validation": "tab:orange"}


def to_review(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The groups of duplicates.csv's rows that cross classes, or hold a test or validation
    image with a copy in another split; the most important first: cross-class, then
    leaking test images, then validation copies; each group's test images first."""
    by_group: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_group[int(r["group"])].append(r)
    chosen = []
    for n, g in by_group.items():
        splits = {r["split"] for r in g}
        crosses = len({r["class"] for r in g}) > 1
        leaks = "test" in splits and len(splits) > 1
        if crosses or (len(splits) > 1 and splits & {"test", "validation"}):
            chosen.append(((not crosses, not leaks, n), g))
    return [
        sorted(g, key=lambda r: (SPLIT_ORDER.get(r["split"], 3), r["file"]))
        for _, g in sorted(chosen, key=lambda x: x[0])
    ]


def copies_sheet(
    rows: Sequence[dict[str, Any]],
    files: Sequence[RawFile],
    target: Path,
    max_groups: int = MAX_GROUPS,
    max_members: int = MAX_MEMBERS,
) -> None:
    """Write the contact sheet of `rows` (duplicates.csv's) to `target` as PNG; `files`
    finds each file by its key."""
    fig = sheet(rows, files, max_groups, max_members)
    with atomic_file(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=72)


def sheet(
    rows: Sequence[dict[str, Any]],
    files: Sequence[RawFile],
    max_groups: int = MAX_GROUPS,
    max_members: int = MAX_MEMBERS,
) -> Figure:
    """The contact sheet as a figure; a small one that says so when no group needs review."""
    groups = to_review(rows)
    if groups:
        fig = _sheet(groups, {f.key: f.path for f in files}, max_groups, max_members)
    else:
        fig = Figure(figsize=(7, 1))
        fig.text(
            0.5,
            0.5,
            "No copies across splits or classes:\nno test or validation image has a copy "
            "in another split, and no copies carry different classes.",
            ha="center",
            va="center",
        )
    return fig


def _sheet(
    groups: list[list[dict[str, Any]]], where: dict[str, Path], max_groups: int, max_members: int
) -> Figure:
    shown = groups[:max_groups]
    cols = min(max_members, max(len(g) for g in shown))
    footer = FOOTER if len(groups) > len(shown) else 0.0
    width = MARGIN * 2 + CELL * max(cols, MIN_CELLS)
    height = TOP + ROW * len(shown) + footer
    # A Figure without pyplot: no global backend or figure registry is touched. Every
    # piece is placed in inches: a layout engine does not see the text under the pictures.
    fig = Figure(figsize=(width, height))
    fig.text(
        0.5,
        1 - TOP / 2 / height,
        f"Copies across splits or classes: {_count(len(groups), 'group')} "
        "(every file in metrics/audit/duplicates.csv)",
        ha="center",
        va="center",
        fontsize=12,
    )
    for n, g in enumerate(shown):
        _row(fig, g, where, cols, TOP + n * ROW)
    if footer:
        fig.text(
            0.5,
            footer / 2 / height,
            f"+{_count(len(groups) - len(shown), 'more group')}",
            ha="center",
            va="center",
            fontsize=12,
        )
    return fig


def _row(
    fig: Figure, g: list[dict[str, Any]], where: dict[str, Path], cols: int, top: float
) -> None:
    """Group `g`'s row, `top` inches below the figure's top edge."""
    width, height = fig.get_size_inches()
    splits = {r["split"] for r in g}
    classes = sorted({r["class"] for r in g})
    why = []
    if len(classes) > 1:
        why.append("classes differ: " + " / ".join(classes))
    if "test" in splits and len(splits) > 1:
        why.append("a test image has a copy in " + " and ".join(sorted(splits - {"test"})))
    elif "validation" in splits and "train" in splits:
        why.append("a validation image has a copy in train")
    more = f"; +{_count(len(g) - cols, 'more file')}" if len(g) > cols else ""
    fig.text(
        MARGIN / width,
        1 - (top + HEADER / 2) / height,
        _drawable(_middle(f"group {g[0]['group']}: {'; '.join(why)}{more}", int(width * 12))),
        ha="left",
        va="center",
        fontsize=11,
        parse_math=False,
    )
    bottom = 1 - (top + HEADER + TITLE + THUMB_IN) / height
    for c, r in enumerate(g[:cols]):
        left = (MARGIN + c * CELL + (CELL - THUMB_IN) / 2) / width
        ax = fig.add_axes((left, bottom, THUMB_IN / width, THUMB_IN / height))
        _thumbnail(ax, r, where.get(r["file"]), len(g) > 2)
        ax.axis("off")


def _thumbnail(ax: Any, r: dict[str, Any], path: Path | None, to_whom: bool) -> None:
    try:
        if path is None:
            raise ImageError("not in data/raw")
        im = decode(path, min_side=THUMB)
        im.thumbnail((THUMB, THUMB))
        ax.imshow(im)
    except (ImageError, OSError) as exc:
        ax.text(0.5, 0.5, f"unreadable:\n{exc}", ha="center", va="center", fontsize=8, wrap=True)
    name = _drawable(_middle(r["file"].rsplit("/", 1)[-1], 28))
    ax.set_title(
        f"{r['split'] or 'unsplit'} · {_drawable(_middle(r['class'], 22))}\n{name}",
        fontsize=9,
        color=SPLIT_COLOUR.get(r["split"], "black"),
        parse_math=False,
    )
    if r["how"]:
        evidence = r["evidence"]  # may name its kind itself: "hash 12 bits apart, ..."
        how = evidence if evidence.startswith(r["how"]) else f"{r['how']}: {evidence}"
        if to_whom:  # which member the evidence is about
            how += f" (to {_middle(r['matched_to'].rsplit('/', 1)[-1], 20)})"
    else:
        how = "the group's first file"
    lines = textwrap.wrap(_drawable(how), 32, max_lines=4, placeholder=" …")
    ax.text(
        0.5,
        -0.03,
        "\n".join(lines),
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8,
        parse_math=False,
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _middle(text: str, width: int) -> str:
    """`text` shortened in the middle, keeping a file name's start and its extension."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: (keep + 1) // 2] + "…" + text[len(text) - keep // 2 :]


@functools.cache
def _font() -> FT2Font:
    return FT2Font(font_manager.findfont(font_manager.FontProperties()))


def _drawable(text: str) -> str:
    """`text` with each character the default font cannot draw (or a control character)
    written as its escape, \\uXXXX: no tofu boxes, no warnings, the name still findable."""
    font = _font()
    return "".join(
        c
        if c.isprintable() and font.get_char_index(ord(c))
        else c.encode("ascii", "backslashreplace").decode()
        for c in text
    )

"""The files a prediction reads, and each one's pixels as the layouts would hold them."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fruitveg.data.images import ImageError
from fruitveg.layout.pixels import layout_pixels


@dataclass(frozen=True)
class Read:
    path: Path
    pixels: np.ndarray | None  # uint8 (size, size, 3); None when unreadable
    error: str | None = None


def files(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Each path given; a folder's files at any depth, sorted, hidden ones skipped. Every
    file is tried whatever its extension: images are recognised by content, as the audit
    does. A path that does not exist is passed on, to be reported as unreadable."""
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.is_file())
            yield from sorted(p for p in found if not _hidden(p.relative_to(path)))
        else:
            yield path


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def read(path: Path, size: int) -> Read:
    """The pixels of `path` through the layouts' preprocessing, or why it can't be read."""
    if not path.exists():
        return Read(path, None, "not found")
    if not path.is_file():
        return Read(path, None, "not a file")
    try:
        return Read(path, layout_pixels(path, size))
    except ImageError as exc:
        return Read(path, None, str(exc))
    except OSError as exc:  # permissions, a file vanishing: the reason, not a traceback
        return Read(path, None, exc.strerror or str(exc))

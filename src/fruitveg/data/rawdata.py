"""The raw dataset tree: data/raw/{train,validation,test}/<class>/<files>, or, for a
dataset that comes unsplit, data/raw/<class>/<files> (the split stage makes the splits)."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import SPLITS, shown
from fruitveg.data.classes import check_class_name

UNSPLIT = ""  # the `split` of a file of a dataset without split folders


class LayoutError(PipelineError):
    """A dataset folder is not in the expected layout."""


@dataclass(frozen=True)
class RawFile:
    split: str  # one of SPLITS, or UNSPLIT
    cls: str
    path: Path

    @property
    def name(self) -> str:
        """The file name as text, as paths.shown writes it (a CSV, JSON or layout file name
        can't hold the lone surrogates of a name that is not UTF-8)."""
        return shown(self.path.name)

    @property
    def key(self) -> str:
        """Stable id relative to the dataset root: 'train/apple/Image_1.jpg' (unsplit:
        'apple/Image_1.jpg')."""
        return f"{self.split}/{self.cls}/{self.name}" if self.split else f"{self.cls}/{self.name}"


def is_split(root: Path) -> bool:
    """Whether a dataset folder comes split (holds train/, validation/ or test/); otherwise
    every folder in it is a class."""
    return any((Path(root) / split).is_dir() for split in SPLITS)


def scan(root: Path, label: str | None = None) -> list[RawFile]:
    """List every file of a dataset folder, checking its shape.

    The folder holds split folders (any of train/, validation/, test/; whether the given
    splits are complete is checked by `check_given`, only where they are used), or only
    class folders. Class folders must have safe names (classes.check_class_name) and hold
    files; anything else is an error naming the path. Hidden files (.DS_Store and the
    like) are skipped; every other file is listed, whatever its extension, because images
    are recognised by content later. Messages show paths under `label` (say, "kaggle
    archive") in place of `root`.
    """
    root = Path(root)
    label = label or str(root)

    def shown(p: Path) -> str:
        return str(Path(label, p.relative_to(root)))

    if not root.is_dir():
        raise LayoutError(f"{label}: dataset folder not found")
    parts = [(split, root / split) for split in SPLITS if (root / split).is_dir()]
    if not parts:
        parts = [(UNSPLIT, root)]
    files: list[RawFile] = []
    for split, split_dir in parts:
        for class_dir in sorted(p for p in split_dir.iterdir() if not p.name.startswith(".")):
            if not class_dir.is_dir():
                what = "split or class folders" if split == UNSPLIT else "class folders"
                raise LayoutError(f"{shown(class_dir)}: expected only {what} in {shown(split_dir)}")
            cls = check_class_name(class_dir.name, shown(class_dir))
            found = sorted(
                p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")
            )
            if not found:
                raise LayoutError(f"{shown(class_dir)}: empty class folder")
            files += [RawFile(split, cls, p) for p in found]
    if not files:
        raise LayoutError(f"{label}: no class folders")
    return files


def check_recordable(files: Iterable[RawFile], root: Path, label: str | None = None) -> None:
    """Refuse file names that are not valid UTF-8: DVC records data/raw's file names in
    UTF-8 and fails on one (`dvc status` included, until the file is renamed by hand).
    Paths show under `label` in place of `root`, undecodable bytes as \\xNN."""
    bad = [f.path for f in files if f.path.name != f.name]
    if bad:
        more = f" (and {len(bad) - 1} more such names)" if len(bad) > 1 else ""
        where = shown(Path(label or root, bad[0].relative_to(root)))
        raise LayoutError(
            f"{where}: file name is not valid UTF-8, which DVC cannot record{more}; rename it"
        )


def check_given(files: Iterable[RawFile], root: Path) -> None:
    """The dataset's own splits are usable as they are: every split folder there and every
    class in each. Lists every gap at once (a real collection has many)."""
    files = list(files)
    if all(f.split == UNSPLIT for f in files):
        raise LayoutError(
            f"{root}: the dataset has no train/validation/test folders (only class folders); "
            "set data.split: resplit in params.yaml to make the splits"
        )
    classes = {s: {f.cls for f in files if f.split == s} for s in SPLITS}
    every = set().union(*classes.values())
    gaps = [f"{root / s}: missing split folder" for s in SPLITS if not classes[s]]
    gaps += [
        f"{root / s / c}: class '{c}' is missing from this split"
        for s in SPLITS
        if classes[s]
        for c in sorted(every - classes[s])
    ]
    if gaps:
        shown = "; ".join(gaps[:10]) + (f"; and {len(gaps) - 10} more" if len(gaps) > 10 else "")
        raise LayoutError(
            f"{shown}. data.split: given uses the dataset's own splits, which need every "
            "class in each; set data.split: resplit to make leakage-free splits instead"
        )


def classes_of(files: list[RawFile]) -> list[str]:
    return sorted({f.cls for f in files})

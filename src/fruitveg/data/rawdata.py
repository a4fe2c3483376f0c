"""The raw dataset tree: data/raw/{train,validation,test}/<class>/<files>."""

import os
from dataclasses import dataclass
from pathlib import Path

from fruitveg.core.errors import PipelineError
from fruitveg.core.paths import SPLITS
from fruitveg.data.classes import KAGGLE_CLASSES


class LayoutError(PipelineError):
    """A dataset folder is not in the expected layout."""


@dataclass(frozen=True)
class RawFile:
    split: str
    cls: str
    path: Path

    @property
    def name(self) -> str:
        """The file name as text: bytes that are not UTF-8 show as \\xNN.

        Linux file names are bytes; Python keeps undecodable ones as lone surrogates,
        which no UTF-8 CSV, JSON or layout file name can hold.
        """
        return os.fsencode(self.path.name).decode("utf-8", "backslashreplace")

    @property
    def key(self) -> str:
        """Stable id relative to the dataset root: 'train/apple/Image_1.jpg'."""
        return f"{self.split}/{self.cls}/{self.name}"


def scan(root: Path, label: str | None = None) -> list[RawFile]:
    """List every file of a dataset folder, checking its layout.

    A missing split, a folder that is not one of the 36 classes, an empty class folder,
    or a class present in one split but not another is an error naming the path.
    Hidden files (.DS_Store and the like) are skipped; every other file is listed,
    whatever its extension, because images are recognised by content later.
    Messages show paths under `label` (say, "kaggle archive") in place of `root`.
    """
    root = Path(root)
    label = label or str(root)

    def shown(p: Path) -> str:
        return str(Path(label, p.relative_to(root)))

    if not root.is_dir():
        raise LayoutError(f"{label}: dataset folder not found")
    files: list[RawFile] = []
    classes_by_split: dict[str, set[str]] = {}
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            raise LayoutError(
                f"{shown(split_dir)}: missing split folder (need {', '.join(SPLITS)})"
            )
        classes_by_split[split] = set()
        for class_dir in sorted(p for p in split_dir.iterdir() if not p.name.startswith(".")):
            if not class_dir.is_dir():
                raise LayoutError(
                    f"{shown(class_dir)}: expected only class folders in {shown(split_dir)}"
                )
            if class_dir.name not in KAGGLE_CLASSES:
                raise LayoutError(
                    f"{shown(class_dir)}: '{class_dir.name}' is not one of the dataset's 36 classes"
                )
            found = sorted(
                p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")
            )
            if not found:
                raise LayoutError(f"{shown(class_dir)}: empty class folder")
            classes_by_split[split].add(class_dir.name)
            files += [RawFile(split, class_dir.name, p) for p in found]
    all_classes = set.union(*classes_by_split.values())
    for split, classes in classes_by_split.items():
        if not classes:
            raise LayoutError(f"{shown(root / split)}: no class folders")
        for cls in sorted(all_classes - classes):
            raise LayoutError(
                f"{shown(root / split / cls)}: class '{cls}' is missing from this split"
            )
    return files


def classes_of(files: list[RawFile]) -> list[str]:
    return sorted({f.cls for f in files})

"""Class names: the check every class folder passes, the Kaggle dataset's 36 names (the
default, not a whitelist), and the fruit/vegetable mapping check."""

import re
from collections.abc import Iterable

from fruitveg.core.errors import PipelineError

# Classes come from the data's folder names. A name also becomes a layout folder, a prefix
# of layout file names, a CSV cell, a JSON key, a Markdown table cell and a column of the
# predictions file: letters (any script), digits, spaces and a few marks, no path separator,
# no '|' or ',', and nothing at either end that a file system or a reader would strip.
CLASS_NAME = re.compile(r"[^\W_](?:[\w .'()+-]{0,62}[^\W_)]|[\w .'()+-]{0,62}\))?")

# Folder names exactly as in the Kaggle dataset, spaces and misspellings included.
KAGGLE_CLASSES: tuple[str, ...] = (
    "apple", "banana", "beetroot", "bell pepper", "cabbage", "capsicum", "carrot",
    "cauliflower", "chilli pepper", "corn", "cucumber", "eggplant", "garlic", "ginger",
    "grapes", "jalepeno", "kiwi", "lemon", "lettuce", "mango", "onion", "orange",
    "paprika", "pear", "peas", "pineapple", "pomegranate", "potato", "raddish",
    "soy beans", "spinach", "sweetcorn", "sweetpotato", "tomato", "turnip", "watermelon",
)  # fmt: skip

BINARY_LABELS = ("fruit", "vegetable")


class ClassNameError(PipelineError):
    """A class folder's name is unsafe to use as a label."""


def check_class_name(name: str, where: str) -> str:
    """`name` when it is a safe class name; else an error naming `where` (the folder)."""
    if not CLASS_NAME.fullmatch(name) or "__" in name:
        raise ClassNameError(
            f"{where}: class folder name {name!r} is not usable as a class: use 1-64 letters, "
            "digits, spaces, '_', '.', \"'\", '(', ')', '+' or '-', starting with a letter or "
            "digit and ending with one or ')', without '__'; rename the folder"
        )
    return name


class MappingError(PipelineError):
    """The fruit/vegetable mapping in params.yaml does not fit the data."""


def binary_mapping(
    fruit: Iterable[str], vegetable: Iterable[str], present: Iterable[str]
) -> dict[str, str]:
    """Map each class present in the data to 'fruit' or 'vegetable'.

    A class in both lists, or in the data but in neither, is an error naming it.
    """
    fruit, vegetable = set(fruit), set(vegetable)
    both = sorted(fruit & vegetable)
    if both:
        raise MappingError(
            f"params.yaml classes: {', '.join(map(repr, both))} listed as both fruit and vegetable"
        )
    missing = sorted(set(present) - fruit - vegetable)
    if missing:
        raise MappingError(
            f"params.yaml classes: {', '.join(map(repr, missing))} found in the data but in "
            "neither classes.fruit nor classes.vegetable (add it to one; for data without a "
            "fruit/vegetable grouping, leave binary out of params.yaml 'tasks' and remove "
            "the binary models)"
        )
    return {c: ("fruit" if c in fruit else "vegetable") for c in sorted(set(present))}

"""The dataset's 36 class names and the fruit/vegetable mapping check."""

from collections.abc import Iterable

from fruitveg.core.errors import PipelineError

# Folder names exactly as in the Kaggle dataset, spaces and misspellings included.
KAGGLE_CLASSES: tuple[str, ...] = (
    "apple", "banana", "beetroot", "bell pepper", "cabbage", "capsicum", "carrot",
    "cauliflower", "chilli pepper", "corn", "cucumber", "eggplant", "garlic", "ginger",
    "grapes", "jalepeno", "kiwi", "lemon", "lettuce", "mango", "onion", "orange",
    "paprika", "pear", "peas", "pineapple", "pomegranate", "potato", "raddish",
    "soy beans", "spinach", "sweetcorn", "sweetpotato", "tomato", "turnip", "watermelon",
)  # fmt: skip

BINARY_LABELS = ("fruit", "vegetable")


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
            "neither classes.fruit nor classes.vegetable"
        )
    return {c: ("fruit" if c in fruit else "vegetable") for c in sorted(set(present))}

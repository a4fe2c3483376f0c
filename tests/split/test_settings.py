"""data.split and data.split_fractions: checked once, errors naming the setting."""

import pytest

from fruitveg.core.params import ParamError
from fruitveg.split.settings import split_settings


def params(**data: object) -> dict:
    base = {"split": "given", "split_fractions": {"train": 0.8, "validation": 0.1, "test": 0.1}}
    return {"seed": 4, "data": base | data}


def test_given_needs_no_fractions() -> None:
    s = split_settings({"seed": 4, "data": {"split": "given"}})
    assert (s.mode, s.seed, s.fractions) == ("given", 4, None)


def test_resplit_reads_the_fractions_in_split_order() -> None:
    assert split_settings(params(split="resplit")).fractions == (0.8, 0.1, 0.1)


TWO = {"train": 0.8, "validation": 0.1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"split": "random"}, r"'data.split' must be one of given, resplit; got 'random'"),
        ({"split_fractions": TWO}, r"missing setting 'data.split_fractions.test'"),
        (
            {"split_fractions": TWO | {"validation": 0.0, "test": 0.2}},
            r"'data.split_fractions.validation' must be a number >= 0.001 and < 1, got 0.0",
        ),
        (  # adds up to 1; once an OverflowError counting the images a class needs
            {"split_fractions": {"train": 0.9, "validation": 0.1, "test": 1e-320}},
            r"^params.yaml: 'data.split_fractions.test' must be a number >= 0.001 and < 1, "
            r"got 1e-320$",
        ),
        (  # the three add up to 1: holdout was silently ignored
            {"split_fractions": {"train": 0.8, "validation": 0.1, "test": 0.1, "holdout": 0.2}},
            r"^params.yaml: 'data.split_fractions' has unknown key\(s\) holdout: give exactly "
            r"train, validation, test$",
        ),
        (
            {"split_fractions": TWO | {"validation": 0.2, "test": 0.2}},
            r"must add up to 1, got train 0.8 \+ validation 0.2 \+ test 0.2",
        ),
    ],
)
def test_bad_settings_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        split_settings(params(**({"split": "resplit"} | data)))

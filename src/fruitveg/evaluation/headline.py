"""The headline metrics of one model: the only numbers DVC compares (`dvc exp show`,
`dvc metrics diff`), in metrics/eval/<model>.json.

Nested under the model's name with short keys, so DVC names each column `<model>.<key>`
(unique across files, hence shown without the file's path) and one model's experiment fits
in 120 columns. Timings stay out: they differ on every run and would bury the one change
that matters; every other number is in <model>_details.json.
"""

from typing import Any

# Name in evaluate's results -> key under the model.
HEADLINE = {
    "accuracy": "accuracy",
    "accuracy_ci_low": "acc_low",
    "accuracy_ci_high": "acc_high",
    "balanced_accuracy": "bal_acc",
    "loss": "loss",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc",
}
# Binary models only. Balanced accuracy is the binary task's honest number: 26 vegetable
# classes to 10 fruit ones make "always vegetable" score 72 % accuracy but 50 % balanced.
# With one label per class the study's splits are balanced, so it would repeat accuracy in
# a column of its own and push a model's experiment past 120 columns; it stays in details.
BINARY_ONLY = ("balanced_accuracy", "roc_auc")


def split(
    model: str, result: dict[str, Any], binary: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(headline file content, details file content) of one model's results."""
    names = [n for n in HEADLINE if n in result and (binary or n not in BINARY_ONLY)]
    head = {HEADLINE[n]: result[n] for n in names}
    details = {k: v for k, v in result.items() if k not in names}
    return {model: head}, details


def unnest(model: str, content: dict[str, Any]) -> dict[str, Any]:
    """The headline file's numbers under evaluate's names; KeyError when `model` is not
    its only key."""
    if list(content) != [model] or not isinstance(content[model], dict):
        raise KeyError(model)
    short = {v: k for k, v in HEADLINE.items()}
    return {short.get(k, k): v for k, v in content[model].items()}

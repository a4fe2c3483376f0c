"""What decides a model's numbers beyond params.yaml: the facts its train stage records.

train@<model> gathers them (fruitveg.training.runtime.trained_with) and writes them beside
the model, data/models/<model>/trained_with.json; evaluate copies them into
metrics/eval/<model>_details.json under "trained_with", which the report and
scripts/review.py read. The same params can give other numbers under other facts: float32
and bfloat16 training, or oneDNN's kernels for another instruction set, flip borderline
test images. Standard library only: review.py runs in CI with dvc alone.
"""

from collections.abc import Mapping
from typing import Any

KEY = "trained_with"  # under this key in <model>_details.json

# Each fact, as the report and the review name it, in the order they show them.
FACTS = {
    "precision": "precision",
    "xla": "XLA",
    "device": "device",
    "cpu_isa": "CPU instruction set (oneDNN)",
    "onednn": "oneDNN ops",
    "intra_op_threads": "intra-op threads",
    "inter_op_threads": "inter-op threads",
    "cpus_usable": "usable CPUs",
    "cpus": "CPUs",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
}


def show(key: str, value: Any) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key.endswith("_threads") and value == 0:
        return "TensorFlow's default"  # one per usable CPU
    return str(value)


def _get(facts: Mapping[str, Any] | None, key: str) -> Any:
    return facts.get(key) if isinstance(facts, Mapping) else None


def differences(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    """'<fact> <old> → <new>' for each fact that differs (all of them when one side has
    none recorded)."""
    return [
        f"{label} {show(key, _get(old, key))} → {show(key, _get(new, key))}"
        for key, label in FACTS.items()
        if _get(old, key) != _get(new, key)
    ]


def summary(per_model: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """Each fact once: its value where every model agrees, else each value with its models."""
    parts = []
    for key, label in FACTS.items():
        by_value: dict[str, list[str]] = {}
        for model, facts in per_model.items():
            by_value.setdefault(show(key, _get(facts, key)), []).append(model)
        if len(by_value) == 1:
            parts.append(f"{label} {next(iter(by_value))}")
        else:
            groups = ", ".join(f"{v} ({', '.join(models)})" for v, models in by_value.items())
            parts.append(f"{label} {groups}")
    return parts

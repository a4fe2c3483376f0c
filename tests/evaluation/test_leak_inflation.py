"""scripts/leak_inflation.py on fabricated experiments: both accuracies side by side, the
test images the two runs share found by the bytes of their layout files (DVC's directory
listings), and the exact McNemar test on those images alone."""

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from fruitveg.evaluation.statistics import mcnemar_exact

from .conftest import REPO

SCRIPTS = REPO / "scripts"


@pytest.fixture
def leak(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(SCRIPTS))  # the scripts import their _experiments
    return importlib.import_module("leak_inflation")


def data(model: str, accuracy: float, split: str) -> dict:
    """One experiment as _experiments.experiments() gives it."""
    metrics = {"accuracy": accuracy, "acc_low": accuracy - 0.1, "acc_high": accuracy + 0.1}
    return {
        "rev": "0" * 40,
        "params": {"params.yaml": {"data": {"data": {"split": split}}}},
        "metrics": {f"metrics/eval/{model}.json": {"data": {model: metrics}}},
    }


def cached_layout(cache: Path, listing: dict[str, str], name: str) -> dict:
    """Store a layout's directory listing (relpath -> md5) as DVC does; return a dvc.lock
    whose layout and evaluate stages both name it."""
    md5 = f"{name:0>32}.dir"
    path = cache / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"md5": m, "relpath": r} for r, m in sorted(listing.items())]
    path.write_text(json.dumps(entries))
    layout = {"path": "data/layouts/multiclass", "md5": md5}
    return {"stages": {"layout@multiclass": {"outs": [layout]},
                       "evaluate@cnn": {"deps": [layout]}}}  # fmt: skip


def predictions(rows: list[tuple[str, str, str]]) -> str:
    return "path,actual,predicted,confidence\n" + "".join(f"{p},{a},{b},0.5\n" for p, a, b in rows)


def test_paired_test_on_the_images_both_runs_share(leak, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # Given split: images A-F in test (A, B also leaked into train: the model knows them).
    given_lock = cached_layout(cache, {
        "train/apple/apple__Image_1.jpg": "x",
        **{f"test/apple/apple__Image_{i}.jpg": k for i, k in enumerate("ABCDEF", 1)},
    }, "1")  # fmt: skip
    # The resplit holds C-F (other names) and new images G, H in test.
    resplit_lock = cached_layout(cache, {
        f"test/apple/apple__{k}.jpg": k for k in "CDEFGH"
    }, "2")  # fmt: skip
    given_rows = [(f"apple/apple__Image_{i}.jpg", "apple", "apple" if right else "pear")
                  for i, right in enumerate([1, 1, 1, 1, 0, 1], 1)]  # fmt: skip
    resplit_rows = [(f"apple/apple__{k}.jpg", "apple", "apple" if right else "pear")
                    for k, right in zip("CDEFGH", [0, 0, 1, 1, 1, 0], strict=True)]  # fmt: skip
    g = leak.arm_result(data("cnn", 5 / 6, "given"), given_lock, "cnn", "multiclass", cache,
                        predictions(given_rows))  # fmt: skip
    r = leak.arm_result(data("cnn", 0.5, "resplit"), resplit_lock, "cnn", "multiclass", cache,
                        predictions(resplit_rows))  # fmt: skip
    assert g.correct == dict(zip("ABCDEF", [True] * 4 + [False, True], strict=True))
    test = leak.paired(g, r)
    # Shared: C, D, E, F. Given right on C, D, F; resplit on E, F.
    expected = mcnemar_exact([True, True, False, True], [False, False, True, True])
    assert (test.shared, test.given_only, test.resplit_only, test.p) == (4, *expected)
    assert (test.given_only, test.resplit_only) == (2, 1)

    text = leak.inflation_table({"cnn": {"given": g, "resplit": r}})
    row = next(line for line in text.splitlines() if line.startswith("| cnn"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells == ["cnn", "83.3 [73.3, 93.3]", "50.0 [40.0, 60.0]", "+33.3",
                     f"4: 2 / 1, p = {expected[2]:.3g}"]  # fmt: skip


def test_runs_without_a_result_or_a_cached_layout_say_so(leak, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    locked = cached_layout(cache, {"test/apple/a.jpg": "A"}, "1")
    csv_text = predictions([("apple/a.jpg", "apple", "apple")])
    here = leak.arm_result(data("cnn", 1.0, "given"), locked, "cnn", "multiclass", cache, csv_text)
    # Left out of the run: evaluate@cnn read a layout this run did not write.
    stale = {"stages": locked["stages"] | {"evaluate@cnn": {"deps": [
        {"path": "data/layouts/multiclass", "md5": "other.dir"}]}}}  # fmt: skip
    assert (
        leak.arm_result(data("cnn", 1.0, "given"), stale, "cnn", "multiclass", cache, csv_text)
        is None
    )
    # No listing in the cache: accuracies still shown, the pairing unknown, not invented.
    blind = leak.arm_result(
        data("cnn", 0.5, "resplit"), locked, "cnn", "multiclass", None, csv_text
    )
    assert blind.correct == {"path:apple/a.jpg": True}
    text = leak.inflation_table({"cnn": {"given": here, "resplit": blind},
                                 "vgg16": {"given": None, "resplit": blind}})  # fmt: skip
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()[2:4]}
    assert "unknown (a layout is not in DVC's cache)" in rows["cnn"] and "+50.0" in rows["cnn"]
    assert [c.strip() for c in rows["vgg16"].split("|")[1:-1]][1:4] == [
        "-",
        "50.0 [40.0, 60.0]",
        "-",
    ]


def test_arms_and_models(leak) -> None:
    assert leak.arm_settings("given", False, ["layout.image_size=32"]) == [
        "data.split=given", "layout.dedupe=false", "layout.image_size=32"]  # fmt: skip
    assert leak.arm_settings("given", True, []) == ["data.split=given"]
    assert leak.arm_settings("resplit", False, []) == ["data.split=resplit"]
    params = {"models": {"binary_cnn": {"task": "binary"}, "cnn": {"task": "multiclass"}}}
    assert leak.check_models(params, None) == {"binary_cnn": "binary", "cnn": "multiclass"}
    with pytest.raises(leak.SweepError, match=r"unknown model 'vgg' \(models: has binary_cnn, cnn"):
        leak.check_models(params, ["vgg"])

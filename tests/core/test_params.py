"""params.yaml reading: numbers as DVC writes them, errors naming the setting."""

from pathlib import Path

import pytest

from fruitveg.core import params


def test_exponent_floats_as_dvc_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("lr: 1e-05\nother: 1.0e-4\nname: '1e-3'\nn: 3\n")
    p = params.load(path)
    assert p == {"lr": 1e-05, "other": 1e-4, "name": "1e-3", "n": 3}
    assert params.finite(p, "lr", 0.0) == 1e-05


def test_errors_name_the_setting(tmp_path: Path) -> None:
    p = {"train": {"lr": 0, "batch": True, "mode": "x"}}
    with pytest.raises(params.ParamError, match=r"'train.lr' must be a number > 0, got 0"):
        params.finite(p, "train.lr", 0.0)
    with pytest.raises(params.ParamError, match=r"'train.batch' must be a whole number >= 1"):
        params.whole(p, "train.batch")
    with pytest.raises(params.ParamError, match=r"missing setting 'train.epochs'"):
        params.get(p, "train.epochs")
    with pytest.raises(params.ParamError, match=r"'train.mode' must be one of a, b; got 'x'"):
        params.choice(p, "train.mode", ("a", "b"))
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(params.ParamError, match=r"bad.yaml: not valid YAML"):
        params.load(tmp_path / "bad.yaml")

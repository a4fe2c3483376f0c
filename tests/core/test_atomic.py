"""Outputs appear whole or not at all, with the usual permissions."""

from pathlib import Path

import pytest

from fruitveg.core.atomic import atomic_dir, atomic_file, write_json


def test_failed_write_leaves_old_file_and_no_litter(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert target.stat().st_mode & 0o044 == 0o044  # readable by others, as with open()


def test_dir_replaced_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "tree"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("second")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "b").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["tree"]
    assert target.stat().st_mode & 0o055 == 0o055

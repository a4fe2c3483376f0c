"""Outputs appear whole or not at all, with the usual permissions, and survive power loss."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fruitveg.core.atomic import WriteError, atomic_dir, atomic_file, write_json


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


@pytest.fixture
def disk_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """("fsync", path) and ("rename", new path) in the order they happen."""
    log: list[tuple[str, str]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd: int) -> None:
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst) -> None:  # type: ignore[no-untyped-def]
        log.append(("rename", str(Path(dst).resolve())))
        real_rename(src, dst)

    def replace(src, dst) -> None:  # type: ignore[no-untyped-def]
        log.append(("rename", str(Path(dst).resolve())))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    return log


def test_file_is_on_disk_before_it_is_renamed_into_place(tmp_path: Path, disk_log) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    (fsync_file, path), rename, fsync_dir = disk_log
    assert fsync_file == "fsync" and Path(path).name.startswith(".out.json.")
    assert rename == ("rename", str(target))
    assert fsync_dir == ("fsync", str(tmp_path))  # the rename itself made durable


def test_tree_is_on_disk_before_it_is_renamed_into_place(tmp_path: Path, disk_log) -> None:
    target = tmp_path / "tree"
    with atomic_dir(target) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "a").write_text("a")
        (tmp / "sub" / "b").write_text("b")
    synced = [p for op, p in disk_log if op == "fsync"]
    renamed = disk_log.index(("rename", str(target)))
    before = {Path(p).relative_to(tmp) for p in synced[:renamed] if Path(p).is_relative_to(tmp)}
    assert before == {Path("."), Path("a"), Path("sub"), Path("sub/b")}
    assert disk_log[renamed + 1] == ("fsync", str(tmp_path))


def test_leftovers_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    """A killed stage leaves its temporary beside the target; the next write clears it."""
    killed_dir = tmp_path / ".tree.ab12_x9z.tmp"
    (killed_dir / "train").mkdir(parents=True)
    (killed_dir / "train" / "Image_1.jpg").write_bytes(b"half")
    killed_file = tmp_path / ".out.json.q1w2e3r4.tmp"
    killed_file.write_text("{")
    others = [tmp_path / ".tree.old.keep", tmp_path / ".treetop.ab12_x9z.tmp", tmp_path / "x.tmp"]
    for path in others:
        path.write_text("not ours")
    with atomic_dir(tmp_path / "tree") as tmp:
        (tmp / "a").write_text("a")
    write_json(tmp_path / "out.json", {})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["tree", "out.json", *(p.name for p in others)])


WRITE = "import sys\nfrom fruitveg.core.atomic import write_json\nwrite_json(sys.argv[1], {'v': 2})"


def test_a_write_of_another_process_keeps_this_ones_temporary(tmp_path: Path) -> None:
    """Two push_db at once: the second's start must not delete the first's temporary."""
    target = tmp_path / "receipt.json"
    with atomic_file(target) as fh:
        fh.write('{"v": 1}\n')
        other = subprocess.run([sys.executable, "-c", WRITE, str(target)], capture_output=True)
        assert other.returncode == 0, other.stderr
    assert target.read_text() == '{"v": 1}\n'  # this write finished, and last
    assert [p.name for p in tmp_path.iterdir()] == ["receipt.json"]


def test_only_the_leftovers_of_writers_that_are_gone_are_removed(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dead = tmp_path / f".out.json.{gone}.abcd1234.tmp"
    old_style = tmp_path / ".out.json.abcd1234.tmp"  # from before names held the writer's id
    live = tmp_path / f".out.json.{os.getppid()}.abcd1234.tmp"  # pytest's parent: alive
    for path in (dead, old_style, live):
        path.write_text("half")
    write_json(tmp_path / "out.json", {"v": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.json", live.name])


def test_two_processes_writing_one_file_at_once_both_succeed(tmp_path: Path) -> None:
    loop = WRITE.replace("\nwrite_json(", "\nfor _ in range(300): write_json(")
    target = str(tmp_path / "receipt.json")
    writers = [subprocess.Popen([sys.executable, "-c", loop, target], stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]  # fmt: skip
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    assert [p.name for p in tmp_path.iterdir()] == ["receipt.json"]


def test_a_full_disk_names_the_output_and_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(WriteError) as err, atomic_file(target) as fh:
        fh.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # a write() names no file
    assert str(err.value) == f"{target}: cannot be written: no space left on device"
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_in_a_folder_names_the_file_under_the_target(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with pytest.raises(WriteError) as err, atomic_dir(target) as tmp:
        write_json(tmp / "labels.json", ["a"])
        with atomic_file(tmp / "weights.h5", "wb") as fh:
            fh.write(b"x")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(err.value) == f"{target}/weights.h5: cannot be written: no space left on device"
    denied = r"/model/sub: cannot be written: permission denied"
    with pytest.raises(WriteError, match=denied), atomic_dir(target) as tmp:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp / "sub"))
    assert [p.name for p in tmp_path.iterdir()] == []


def test_an_unreadable_source_is_not_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_dir(tmp_path / "out"):
        (tmp_path / "missing").read_text()
    full = "out: cannot be written: no space left on device"  # whatever file it names
    with pytest.raises(WriteError, match=full), atomic_dir(tmp_path / "out"):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/elsewhere")


def test_an_error_of_no_system_call_is_not_a_write_error(tmp_path: Path) -> None:
    """requests' exceptions are OSErrors without an errno: a download that fails inside
    atomic_dir keeps its own error, for its own message."""
    with (
        pytest.raises(ConnectionError, match="refused by the server"),
        atomic_dir(tmp_path / "out"),
    ):
        raise ConnectionError("refused by the server")
    with pytest.raises(OSError, match="Unauthenticated"), atomic_file(tmp_path / "out.json"):
        raise OSError("Unauthenticated")
    assert list(tmp_path.iterdir()) == []

"""Outputs that appear whole or not at all.

Everything is written beside its target under a temporary name, flushed to disk and
renamed into place at the end, so neither an interrupted stage nor a power loss leaves a
half-written file or tree under the target's name. What a killed run left behind
(`.<name>.<pid>.<random>.tmp` beside the target, and the temporaries of such temporaries)
is removed by the next write of that target, once its writer is gone: a write running at the
same time keeps its own.
"""

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fruitveg.core.errors import DISK_FULL, PipelineError, reason
from fruitveg.core.paths import shown


class WriteError(PipelineError):
    """An output could not be written (a full disk, no permission); names the file."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{shown(path)}: cannot be written: {why}")
        self.path, self.why = Path(path), why


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Every file and folder of `root` on disk, so the rename publishes whole contents.

    In threads: each fsync mostly waits on the disk, and concurrent ones share journal
    commits (data/raw's 1446 files written in 1.7 s without fsync, 7.4 s with one fsync
    after another, 2.5 s with these; medians of 4 on this 2-core machine).
    """
    found = [os.path.join(folder, n) for folder, _, files in os.walk(root) for n in files]
    found += [folder for folder, _, _ in os.walk(root)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(_fsync, found))


# mkstemp/mkdtemp names: .<name>.<pid>.<random>.tmp (before pids: .<name>.<random>.tmp)
_TEMPORARY = re.compile(r"\.(.+?)\.(?:([0-9]+)\.)?[a-z0-9_]{8}\.tmp")


def _temp_prefix(target: Path) -> str:
    """The start of a temporary's name: the target's, and the writer's process id."""
    return f".{target.name}.{os.getpid()}."


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's, alive
        return True
    return True


def _is_leftover(name: str, target: str) -> bool:
    """A temporary of `target`, or of one of its temporaries (an atomic write inside
    another, as the Kaggle download's in download's), whose writers are all gone. A name
    without a process id is from before ids were in the names: its writer is long gone."""
    owners = []
    while found := _TEMPORARY.fullmatch(name):
        name = found[1]
        if found[2] is not None:
            owners.append(int(found[2]))
        if name == target:
            return not any(_owner_alive(pid) for pid in owners)
    return False


def _clear_leftovers(target: Path) -> None:
    """Remove the temporaries of earlier, killed writes of `target`."""
    for path in target.parent.iterdir():
        if _is_leftover(path.name, target.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _under(path: Any, folder: Path) -> Path | None:
    """`path` relative to `folder`, or None when it is not in it (or is no path)."""
    if not isinstance(path, str | bytes | os.PathLike):
        return None
    try:
        return Path(os.path.abspath(os.fsdecode(path))).relative_to(os.path.abspath(folder))
    except ValueError:
        return None


@contextmanager
def _writing(target: Path, tmp: list[Path]) -> Iterator[None]:
    """An OSError of writing `target` as a WriteError naming the file under `target`:
    making its temporary, and once made (tmp[0]) writing in it or renaming it. An OSError
    of the block naming some other file (a source that can't be read) passes unchanged,
    unless it is a full disk. One with no errno is no system call's (requests' exceptions
    are OSErrors: a download's refused login is not a write error) and passes unchanged."""
    try:
        yield
    except WriteError as exc:  # a file written inside the temporary folder: name it here
        rel = _under(exc.path, tmp[0]) if tmp else None
        if rel is None:
            raise
        raise WriteError(target / rel, exc.why) from exc.__cause__
    except OSError as exc:
        if exc.errno is None:
            raise
        # Writing in the temporary, or renaming it over the target; a copy names both files.
        places = [(name, p) for name in (exc.filename, exc.filename2) for p in [*tmp, target]]
        rel = next((r for r in (_under(*np) for np in places) if r is not None), None)
        unrelated = tmp and rel is None and exc.filename is not None  # made: the block's own
        if unrelated and exc.errno not in DISK_FULL:
            raise
        raise WriteError(target / rel if rel is not None else target, reason(exc)) from exc


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces `target` when the block succeeds.

    An OSError of writing it (a full disk) ends in a WriteError naming the file."""
    target, made = Path(target), []
    with _writing(target, made):
        target.parent.mkdir(parents=True, exist_ok=True)
        _clear_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
        made.append(tmp)
        try:
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; outputs: the usual mode
            yield tmp
            _fsync_tree(tmp)
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                target.rename(old)
                tmp.rename(target)
                _fsync(target.parent)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
                _fsync(target.parent)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(target: Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file that replaces `target` when the block succeeds.

    An OSError of writing it (a full disk) ends in a WriteError naming `target`."""
    target, made = Path(target), []
    with _writing(target, made):
        target.parent.mkdir(parents=True, exist_ok=True)
        _clear_leftovers(target)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
        made.append(Path(tmp))
        try:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the usual mode
            encoding = None if "b" in mode else "utf-8"
            newline = None if "b" in mode else ""
            with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync(target.parent)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def read_json(path: Path, missing: str, error: type[PipelineError] = PipelineError) -> Any:
    """The JSON in `path`; a missing or malformed file raises `error` naming it.

    `missing` says what to do when the file is absent, e.g. "run evaluate@cnn first".
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: not found; {missing} (dvc repro)") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON: {exc}") from None


def write_json(target: Path, data: Any) -> None:
    with atomic_file(target) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")

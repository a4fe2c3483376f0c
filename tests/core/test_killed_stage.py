"""A stage killed mid-write: its pool workers die with it, the next run clears its litter.

The child below is what layout does: pmap's workers write pictures into atomic_dir's
temporary folder. It is killed with SIGKILL, which no Python code can intercept.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fruitveg.core.atomic import atomic_dir

from ..repo_copy import alive

CHILD = """
import sys, time
from pathlib import Path
from fruitveg.core.atomic import atomic_dir
from fruitveg.data.parallel import pmap
if sys.argv[2] == "watchdog":  # what other systems get: no prctl, a thread polls the parent
    sys.platform = "darwin"  # (after multiprocessing has chosen fork, as on Linux)

def work(i):
    (OUT / f"Image_{i}.jpg").write_bytes(b"x" * 1000)
    if i == 20:
        print("working", flush=True)
    time.sleep(0.05)
    return i

with atomic_dir(Path(sys.argv[1])) as OUT:
    pmap(work, range(10_000), n_workers=2)
"""


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("how", ["prctl", "watchdog"])
def test_workers_die_with_a_killed_stage_and_its_litter_goes(tmp_path: Path, how: str) -> None:
    target = tmp_path / "multiclass"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), how], stdout=subprocess.PIPE, text=True
    )
    workers: list[int] = []
    try:
        assert child.stdout is not None and child.stdout.readline() == "working\n"
        workers += children(child.pid)
        assert len(workers) == 2
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(w) for w in workers), "pool workers outlived their stage"
    finally:
        for pid in [child.pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    litter = [p.name for p in tmp_path.iterdir()]
    assert len(litter) == 1 and litter[0].startswith(".multiclass.")  # what a kill leaves

    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("a")
    assert [p.name for p in tmp_path.iterdir()] == ["multiclass"]

"""Spreading per-image work over the machine's cores."""

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PROGRESS_S = 10.0


def workers() -> int:
    """Cores this process may use (honours CPU affinity, e.g. in containers)."""
    return max(1, len(os.sched_getaffinity(0)))


def _die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when the stage that started it dies.

    A killed stage cannot shut its pool down, and its workers would wait on their task
    pipe forever. On Linux the kernel signals them (PR_SET_PDEATHSIG); elsewhere a
    thread polls the parent.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the call: nobody will signal
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def pmap(
    fn: Callable[[T], R],
    items: Iterable[T],
    n_workers: int | None = None,
    label: str | None = None,
) -> list[R]:
    """`[fn(x) for x in items]` over worker processes, in order; serial for tiny inputs.
    With `label`, a long run says how far it has got every PROGRESS_S seconds."""
    items = list(items)
    n = n_workers or workers()
    if n == 1 or len(items) < 8:
        return [fn(x) for x in items]
    with ProcessPoolExecutor(n, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        results = pool.map(fn, items, chunksize=max(1, min(64, len(items) // (n * 8))))
        if label is None:
            return list(results)
        out: list[R] = []
        started = last = time.monotonic()
        for r in results:
            out.append(r)
            if (now := time.monotonic()) - last >= PROGRESS_S:
                last = now
                print(f"{label}: {len(out)}/{len(items)} ({now - started:.0f} s)", flush=True)
        return out

"""Spreading per-image work over the machine's cores."""

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """Cores this process may use (honours CPU affinity, e.g. in containers)."""
    return max(1, len(os.sched_getaffinity(0)))


def pmap(fn: Callable[[T], R], items: Iterable[T], n_workers: int | None = None) -> list[R]:
    """`[fn(x) for x in items]` over worker processes, in order; serial for tiny inputs."""
    items = list(items)
    n = n_workers or workers()
    if n == 1 or len(items) < 8:
        return [fn(x) for x in items]
    with ProcessPoolExecutor(n) as pool:
        return list(pool.map(fn, items, chunksize=max(1, len(items) // (n * 8))))

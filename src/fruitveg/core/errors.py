"""The stage boundary: one clear line for a PipelineError, and no secret in anything printed."""

import atexit
import errno
import functools
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

from fruitveg.core import paths, secrets


class PipelineError(ValueError):
    """Bad input or settings; the message names the file or setting at fault."""


# A full disk, a quota or a file size limit: the machine's state, not the stage's bug.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def reason(exc: OSError) -> str:
    """An OSError's reason as a message part: "no space left on device"."""
    why = (str(exc.strerror or exc).strip().splitlines() or [type(exc).__name__])[0]
    return why[:1].lower() + why[1:]


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main with every known secret masked in its output and errors.

    A PipelineError ends it with one line (exit 1), and so does a full disk (an OSError of
    DISK_FULL, naming its file where the error does); any other exception with its
    traceback, scrubbed (exit 1, or 130 for Ctrl-C), since a library may put a credential
    in a message (http.client quotes a bad Authorization header whole).
    """
    _freeze_gc_at_exit()
    scrub = secrets.scrubber()
    with _scrubbed_output(scrub):
        try:
            main()
        except PipelineError as exc:
            print(f"error: {scrub(str(exc))}", file=sys.stderr)
            raise SystemExit(1) from None
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                _traceback(exc, scrub)
            # core.atomic's WriteError names the output; this is for what else writes.
            name = exc.filename2 or exc.filename  # a copy names its source, then the target
            named = isinstance(name, str | bytes | os.PathLike)  # not a file descriptor
            where = f"{paths.shown(name)}: " if named else "writing an output: "
            print(f"error: {scrub(where + reason(exc))}", file=sys.stderr)
            raise SystemExit(1) from None
        except SystemExit as exc:
            if isinstance(exc.code, int | None):
                raise
            print(scrub(str(exc.code)), file=sys.stderr)  # Python would print it unscrubbed
            raise SystemExit(1) from None
        except BaseException as exc:
            _traceback(exc, scrub)


def _traceback(exc: BaseException, scrub: Callable[[str], str]) -> NoReturn:
    sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
    raise SystemExit(130 if isinstance(exc, KeyboardInterrupt) else 1) from None


@functools.cache  # registered once per process
def _freeze_gc_at_exit() -> None:
    """Skip the interpreter's last garbage collections at exit: they walk every object
    TensorFlow made, about 1 s of each stage process against 0.1 s frozen. Every exit
    handler still runs (TensorFlow removes its generated files in one); only cyclic garbage
    is left to the OS. In a process that goes on after the stage (a test), nothing changes
    until that process exits."""
    atexit.register(gc.freeze)


class _Scrubbed:
    """A text stream that masks secrets in what goes through it; the rest is the stream's."""

    def __init__(self, stream: TextIO, scrub: Callable[[str], str]) -> None:
        self._stream, self._scrub = stream, scrub

    def write(self, text: str) -> int:
        self._stream.write(self._scrub(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _scrubbed_output(scrub: Callable[[str], str]) -> Iterator[None]:
    """sys.stdout, sys.stderr and the log handlers writing to them, scrubbed."""
    out, err = sys.stdout, sys.stderr
    wrapped = {id(out): _Scrubbed(out, scrub), id(err): _Scrubbed(err, scrub)}
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [
        h
        for lg in loggers
        for h in getattr(lg, "handlers", ())  # placeholders have none
        if isinstance(h, logging.StreamHandler) and id(h.stream) in wrapped
    ]
    sys.stdout, sys.stderr = wrapped[id(out)], wrapped[id(err)]
    originals = [(h, h.setStream(wrapped[id(h.stream)])) for h in handlers]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for handler, stream in originals:
            handler.setStream(stream)

"""The one error type that stage entry points turn into a clear message and exit code 1."""

import sys
from collections.abc import Callable


class PipelineError(ValueError):
    """Bad input or settings; the message names the file or setting at fault."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; a PipelineError ends it with one line instead of a traceback."""
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None

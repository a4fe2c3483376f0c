"""TensorFlow's C++ start-up and converter chatter kept out of a stage's output.

TensorFlow, XLA and TFLite log from C++ straight to file descriptor 2, some of it before
TF_CPP_MIN_LOG_LEVEL is read (absl's "All log messages before absl::InitializeLog()", the
CUDA stubs' "Could not find cuda drivers"), some of it with printf ("fully_quantize: 0,
..."). No setting silences all of it, so a TensorFlow stage routes descriptor 2 through a
small filter process that drops those known lines and passes every other one through
unchanged: Python warnings, tracebacks and any C++ error we do not know stay visible. A
process, not a thread: it reads while TensorFlow holds the interpreter, and it outlives a
stage killed outright (the cluster watchdog's message still gets through).
TF_CPP_MIN_LOG_LEVEL set in the environment still wins, and FRUITVEG_NATIVE_LOGS=1 turns
the filter off.
"""

import atexit
import contextlib
import os
import re
import subprocess
import sys

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"  # C++ info and warning lines, absl's format
    rb"|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\]"  # no GPU driver: the stage says it runs on the CPU
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|fully_quantize: \d)"
)


_filtering = False


def quiet_tensorflow() -> None:
    """Call first thing in a stage that loads TensorFlow; once per process is enough."""
    global _filtering
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # info lines, where it is honoured
    if not _filtering and os.environ.get("FRUITVEG_NATIVE_LOGS") != "1":
        _filter_fd2(NOISE)
        _filtering = True


# Runs in its own interpreter: stdin is the stage's descriptor 2, stdout the real stderr.
_FILTER = """
import re, sys
noise = re.compile(sys.argv[1].encode("latin-1"))
for line in sys.stdin.buffer:
    if not noise.match(line):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def _filter_fd2(noise: re.Pattern[bytes]) -> None:
    """Descriptor 2 becomes the filter's stdin; at exit it is given back and the filter
    drained, so every line is out before the stage's process ends."""
    sys.stderr.flush()
    original = os.dup(2)
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", _FILTER, noise.pattern.decode("latin-1")],
        stdin=subprocess.PIPE,
        stdout=original,
        stderr=original,
    )
    assert proc.stdin is not None
    os.dup2(proc.stdin.fileno(), 2)
    proc.stdin.close()  # descriptor 2 is now this process' only way into the filter

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # the filter sees its input end once children let go too
        # A child still holding it (a watchdog) keeps it open: its lines still pass later.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    atexit.register(restore)

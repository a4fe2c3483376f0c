"""TensorFlow's C++ start-up and converter chatter kept out of a stage's output.

TensorFlow, XLA and TFLite log from C++ straight to file descriptor 2, some of it before
TF_CPP_MIN_LOG_LEVEL is read (absl's "All log messages before absl::InitializeLog()", the
CUDA stubs' "Could not find cuda drivers"), some of it with printf ("fully_quantize: 0,
..."). No setting silences all of it, so a TensorFlow stage routes descriptor 2 through a
filter that drops those known lines and passes every other one through unchanged: Python
warnings, tracebacks and any C++ error we do not know stay visible. TF_CPP_MIN_LOG_LEVEL
set in the environment still wins, and FRUITVEG_NATIVE_LOGS=1 turns the filter off.
"""

import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"  # C++ info and warning lines, absl's format
    rb"|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\]"  # no GPU driver: CPU it is, as said below
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


def _filter_fd2(noise: re.Pattern[bytes]) -> None:
    """Descriptor 2 becomes a pipe; a thread copies each line not matching `noise` to the
    original stderr. At exit the pipe is closed and drained, so no last line is lost."""
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        out = os.fdopen(os.dup(original), "wb")
        with os.fdopen(read_end, "rb") as lines, out:
            for line in lines:
                if not noise.match(line):
                    out.write(line)
                    out.flush()

    thread = threading.Thread(target=copy, name="native-stderr", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the thread sees its end
        thread.join(timeout=5)

    atexit.register(restore)

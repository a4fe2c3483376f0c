"""TensorFlow's known C++ chatter is dropped from a stage's stderr; everything else stays."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796627823.807403    7930 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796627828.923796    7930 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
    "W0000 00:00:1796628678.130145    8645 tf_tfl_flatbuffer_helpers.cc:364] Ignored "
    "output_format.",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, output_inference_type: "
    "INT8",
]
KEPT = [
    "E0000 00:00:1796628678.130145    8645 some_kernel.cc:12] a C++ error we don't know",
    "WARNING:absl:a Python warning from absl",
    "params.yaml: 'models.cnn.lr' must be a number > 0",
]

SCRIPT = """
import os, sys
from fruitveg.core.native_logs import quiet_tensorflow
quiet_tensorflow()
quiet_tensorflow()  # a second call changes nothing
lines = sys.argv[1].split("|")
for line in lines:  # C++ writes straight to descriptor 2
    os.write(2, (line + "\\n").encode())
print("to stdout", flush=True)
raise SystemExit("the last line, written as the process exits")
"""


@pytest.mark.parametrize("env", [{}, {"FRUITVEG_NATIVE_LOGS": "1"}])
def test_known_lines_go_and_the_rest_stays(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "|".join(NOISE[:3] + KEPT + NOISE[3:])],
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == "to stdout\n"
    lines = done.stderr.splitlines()
    assert lines[-1] == "the last line, written as the process exits"
    if env:  # the filter off: every line as written
        assert lines[:-1] == NOISE[:3] + KEPT + NOISE[3:]
    else:
        assert lines[:-1] == KEPT


def test_a_line_written_just_before_a_kill_still_gets_out() -> None:
    """As the cluster watchdog does: its message, then SIGKILL for the stage."""
    script = (
        "import os, signal\n"
        "from fruitveg.core.native_logs import quiet_tensorflow\n"
        "quiet_tensorflow()\n"
        "os.write(2, b'I0000 00:00:1.5    7 cudart_stub.cc:31] noise\\n')\n"
        "os.write(2, b'not every worker joined\\n')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -9 and done.stderr == "not every worker joined\n"

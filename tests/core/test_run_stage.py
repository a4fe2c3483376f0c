"""The stage boundary (run_stage): nothing a stage prints, logs or raises shows a known
secret, in any form; an unexpected exception prints a scrubbed traceback."""

import base64
import errno
import http.client
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest

from fruitveg.core.errors import PipelineError, run_stage

from .planted import KEY, PASSWORD, TOKEN, USER, planted_forms


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in ("KAGGLE_CONFIG_DIR", "FRUITVEG_DB_ENV_FILE", "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN + "\r")
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("FRUITVEG_DB_PASSWORD", PASSWORD)


def stage_output(main, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        run_stage(main)
    out, err = capsys.readouterr()
    for value, user in ((TOKEN, None), (KEY, USER), (PASSWORD, None)):
        for form in planted_forms(value, user):
            assert form not in out + err, f"{form!r} leaked"
    return info.value.code, out + err


def test_the_crlf_token_in_an_http_client_error(planted, capsys) -> None:
    """The case seen: http.client refuses a header ending in \\r and quotes it whole."""

    def main() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", 9)
        conn.putrequest("GET", "/")
        conn.putheader("Authorization", f"Bearer {TOKEN}\r")

    code, output = stage_output(main, capsys)
    assert code == 1
    assert "Traceback" in output and "ValueError: Invalid header value b'Bearer ***" in output


def test_a_server_echo_of_basic_auth(planted, capsys) -> None:
    basic = base64.b64encode(f"{USER}:{KEY}".encode()).decode()

    def main() -> None:
        raise PipelineError(f"HTTP 500: bad request with Authorization: Basic {basic}")

    code, output = stage_output(main, capsys)
    assert (code, output) == (1, "error: HTTP 500: bad request with Authorization: Basic ***\n")


def test_prints_and_logs_of_the_stage_are_scrubbed(planted, capsys) -> None:
    logger = logging.getLogger("fruitveg.test_scrub")
    stream = sys.stderr
    handler = logging.StreamHandler(stream)  # made before the stage, as push_db does
    logger.addHandler(handler)
    try:

        def main() -> None:
            print(f"password {PASSWORD!r} url https://x/?key={quote(KEY, safe='')}")
            logger.warning("token %s", TOKEN)
            raise KeyboardInterrupt

        code, output = stage_output(main, capsys)
    finally:
        logger.removeHandler(handler)
    assert code == 130 and "token ***" in output and "KeyboardInterrupt" in output
    assert handler.stream is stream and sys.stderr is stream  # restored


def test_an_exit_message_is_scrubbed(planted, capsys) -> None:
    def main() -> None:
        raise SystemExit(f"cannot log in with {KEY}")

    assert stage_output(main, capsys) == (1, "cannot log in with ***\n")


def test_a_clean_exit_passes_through(planted, capsys) -> None:
    def main() -> None:
        raise SystemExit(0)

    assert stage_output(main, capsys) == (0, "")


def test_a_full_disk_is_one_line_naming_the_file(planted, capsys) -> None:
    def write(name: str | None):
        def main() -> None:  # dvclive or Keras writing a file of their own
            raise OSError(errno.ENOSPC, "No space left on device", *([name] if name else []))

        return main

    assert stage_output(write("metrics/train/cnn/metrics.json"), capsys) == (
        1,
        "error: metrics/train/cnn/metrics.json: no space left on device\n",
    )
    assert stage_output(write(None), capsys) == (
        1,
        "error: writing an output: no space left on device\n",
    )
    code, output = stage_output(Path("missing.txt").read_text, capsys)  # a bug: traceback
    assert code == 1 and "Traceback" in output and "FileNotFoundError" in output


def test_a_stage_process_exits_with_the_gc_frozen_after_every_exit_handler(tmp_path) -> None:
    """The interpreter's last collections are skipped (they cost a TensorFlow stage about
    1 s), yet a handler the stage registers (TensorFlow's file clean-up) still runs."""
    script = textwrap.dedent(
        f"""
        import atexit, gc, pathlib
        from fruitveg.core.errors import run_stage
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
        def main():
            atexit.register(lambda: pathlib.Path({str(tmp_path / "cleaned")!r}).touch())
            print("frozen during the stage:", gc.get_freeze_count() > 0)
        run_stage(main)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["frozen during the stage: False", "frozen at exit: True"]
    assert (tmp_path / "cleaned").exists()

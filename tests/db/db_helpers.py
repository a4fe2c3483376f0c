"""Helpers for the database tests: temporary stage directories, the stages run in-process
or as scripts, and pushes in child processes that stop inside their transaction."""

import contextlib
import importlib.util
import io
import json
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType

import yaml
from mariadb_server import DATABASE, PASSWORD, USER, MariaDB

from fruitveg.core import history
from fruitveg.core.errors import run_stage
from fruitveg.db import config
from fruitveg.db.config import Target
from fruitveg.db.push import push
from fruitveg.db.rows import EpochRow, RunIdentity, epoch_rows

REPO = Path(__file__).resolve().parents[2]
PUSH = REPO / "stages" / "push_db.py"
SHOW = REPO / "stages" / "show_logs.py"
MODELS = ("binary_cnn", "cnn", "resnet50")
EPOCHS = 4


def model_block(lr: float = 1e-4) -> dict:
    """A models: entry that core.model_config accepts (push_db reads only its name)."""
    return {
        "task": "multiclass",
        "arch": "cnn",
        "attention": "none",
        "lr": lr,
        "epochs": EPOCHS,
        "batch_size": 8,
        "optimizer": "adam",
        "dropout": 0.5,
    }


def history_csv(model: str, epochs: int = EPOCHS, lr: float = 1e-4, shift: float = 0.0) -> str:
    lines = ["epoch,start_time,end_time,loss,accuracy,val_loss,val_accuracy,learning_rate"]
    for e in range(1, epochs + 1):
        lines.append(
            f"{e},2026-11-28T08:{e:02d}:00.123456+00:00,2026-11-28T08:{e:02d}:30.654321+00:00,"
            f"{1.0 / e + shift:.6f},{0.5 + e / 100 + shift:.6f},{1.1 / e:.6f},{0.4 + e / 100:.6f},"
            f"{lr}"
        )
    return "\n".join(lines) + "\n"


@dataclass
class Result:
    """What a stage run left: exit status and its output (as a process's would be)."""

    returncode: int
    stdout: str
    stderr: str


@cache
def _stage(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"stage_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _inside(root: Path, env: dict[str, str]) -> Iterator[None]:
    """The working directory and environment a stage process would have there."""
    cwd, saved = Path.cwd(), dict(os.environ)
    os.chdir(root)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)


def run_in_process(root: Path, main: Callable[[], None], env: dict[str, str]) -> Result:
    """Run a stage's main() here as its script would run (run_stage, retry warnings on
    stderr), without the second or two a new interpreter costs."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("push_db: %(message)s"))
    logger = logging.getLogger("fruitveg")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    code = 0
    try:
        with _inside(root, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run_stage(main)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Repo:
    root: Path
    models: tuple[str, ...]

    def write_params(self, db: dict) -> None:
        params = {"models": {m: model_block() for m in self.models}, "db": db}
        (self.root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")

    # --- the stages, in this process ------------------------------------------------

    def push(self, env: dict[str, str] | None = None) -> Result:
        return run_in_process(self.root, _stage(PUSH).main, clean_env(env))

    def show(self, *args: str, env: dict[str, str] | None = None) -> Result:
        main = _stage(SHOW).main
        return run_in_process(self.root, lambda: main(list(args)), clean_env(env))

    # --- the stages as scripts (the tests marked slow) --------------------------------

    def _script(self, script: Path, args: tuple[str, ...], env: dict[str, str] | None) -> Result:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=self.root,
            env=clean_env(env),
            text=True,
            capture_output=True,
            timeout=120,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def push_script(self, env: dict[str, str] | None = None) -> Result:
        return self._script(PUSH, (), env)

    def show_script(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self._script(SHOW, args, env)

    # --- the library ------------------------------------------------------------------

    def target(self, env: dict[str, str] | None = None) -> Target:
        """The target the stage would resolve here, with `env` as its environment."""
        params = yaml.safe_load((self.root / "params.yaml").read_text(encoding="utf-8"))
        environ = clean_env(env) | {"DVC_ROOT": str(self.root)}
        return config.resolve(config.read_params(params), environ)

    def epoch_rows(self) -> list[EpochRow]:
        folder = self.root / "plots" / "history"
        return [r for m in self.models for r in epoch_rows(m, history.read(folder / f"{m}.csv"))]

    @property
    def sqlite(self) -> Path:
        return self.root / "data" / "push_db" / "training_logs.sqlite"

    def receipt(self) -> dict:
        return json.loads((self.root / "data" / "push_db" / "receipt.json").read_text())

    @property
    def rows(self) -> int:
        return len(self.models) * EPOCHS


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any database or DVC settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FRUITVEG_DB_", "DVC_EXP_")) and k != "DVC_ROOT"
    }
    return env | (extra or {})


def mysql_env(server: MariaDB, **extra: str) -> dict[str, str]:
    return {
        "FRUITVEG_DB_HOST": "127.0.0.1",
        "FRUITVEG_DB_PORT": str(server.port),
        "FRUITVEG_DB_NAME": DATABASE,
        "FRUITVEG_DB_USER": USER,
        "FRUITVEG_DB_PASSWORD": PASSWORD,
    } | extra


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# --- pushes in child processes ----------------------------------------------------------


def _pause_after(rows: int, folder: Path) -> Callable[[int], None]:
    """push()'s after_batch: once `rows` are sent, say so and wait (inside the open
    transaction) until the test touches folder/resume."""
    done = False

    def after_batch(sent: int) -> None:
        nonlocal done
        if done or sent < rows:
            return
        done = True
        Path(folder, f"paused.{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while not Path(folder, "resume").exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    return after_batch


def _child(
    pipe: Connection,
    target: Target,
    rows: list[EpochRow],
    run: RunIdentity,
    after_batch: Callable[[int], None] | None,
) -> None:
    try:
        pipe.send(("ok", push(target, rows, run, after_batch)))
    except BaseException as exc:  # report it: the test asserts on the outcome
        pipe.send(("error", f"{exc.__class__.__name__}: {exc}"))


@dataclass
class Child:
    """A push running in a forked copy of the test process."""

    process: multiprocessing.process.BaseProcess
    pipe: Connection

    def finish(self, timeout: float = 120) -> tuple[str, object]:
        """('ok', rows sent) or ('error', message)."""
        if not self.pipe.poll(timeout):
            raise AssertionError("the push in the child process did not finish")
        outcome = self.pipe.recv()
        self.process.join(timeout)
        return outcome

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no rollback, no goodbye to the server
        self.process.join()


def start_push(
    target: Target,
    rows: list[EpochRow],
    run: RunIdentity,
    pause: Path | None = None,
    after_rows: int = 0,
) -> Child:
    """push() in a child process; with `pause`, it stops inside its transaction once
    after_rows rows are sent (see paused() and touch pause/resume)."""
    if pause is not None:
        pause.mkdir(exist_ok=True)
    after_batch = _pause_after(after_rows, pause) if pause is not None else None
    ctx = multiprocessing.get_context("fork")  # fast, and the child needs no pickling
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(send, target, rows, run, after_batch))
    process.start()
    send.close()
    return Child(process, receive)


def paused(folder: Path) -> int:
    return len(list(folder.glob("paused.*")))

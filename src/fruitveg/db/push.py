"""Per-epoch training histories into a `training_logs` table, and back out for show_logs.

One push is one transaction of upserts keyed on (run, model_name, epoch), so a rerun adds
no rows and a push cut off halfway commits nothing. Identifiers are validated and quoted;
every value goes through query parameters. Errors become a DbError whose message names the
target and the likely fix and never holds a secret. All of it runs through the Backend
interface (fruitveg.db.backend): nothing here knows which database it talks to.
"""

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

from fruitveg.core.params import model_name
from fruitveg.db.backend import (
    COLUMNS,
    KEY_COLUMNS,
    MAX_RUN,
    SHOWN_COLUMNS,
    Backend,
    DbError,
)
from fruitveg.db.config import MAX_WAIT_S, Target, validate_identifier
from fruitveg.db.rows import EpochRow, RunIdentity

log = logging.getLogger(__name__)  # the stage shows warnings (retries) on stderr

T = TypeVar("T")


def _with_retries(target: Target, action: Callable[[Any, Backend], T]) -> T:
    """Run action on a fresh connection; on a transient error, back off and run it again."""
    backend = target.backend
    attempts = target.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with closing(backend.connect(target.timeout_s)) as conn:
                return action(conn, backend)
        except DbError:
            raise
        except (*backend.driver_errors, OSError) as exc:
            transient, message = backend.explain(exc, target.table)
            if not transient:
                raise DbError(message) from None
            if attempt == attempts:
                raise DbError(f"{message}; gave up after {attempts} attempt(s)") from None
            # Capped: doubling a long backoff many times would overflow time.sleep.
            doubled = min(target.retry_backoff_s * 2 ** (attempt - 1), MAX_WAIT_S)
            delay = doubled * random.uniform(1.0, 1.5)
            log.warning("%s; retry %d of %d in %.1f s", message, attempt, target.retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _width(sql_type: str) -> int | None:
    """The characters a CHAR or VARCHAR type holds; None for any other type."""
    found = re.match(r"\s*(?:var)?char\s*\(\s*(\d+)\s*\)", sql_type, re.IGNORECASE)
    return int(found[1]) if found else None


def _duplicate_keys(cur: Any, backend: Backend, table: str) -> int:
    key = ", ".join(backend.quote(c) for c in KEY_COLUMNS)
    cur.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {backend.quote(table)} GROUP BY {key} "
        "HAVING COUNT(*) > 1) AS d"
    )
    ((count,),) = cur.fetchall()
    return int(count)


def ensure_table(cur: Any, backend: Backend, table: str) -> None:
    """Create the table when it is missing; refuse one the upsert cannot trust.

    CREATE runs only for a missing table, so once it exists a user with SELECT, INSERT and
    UPDATE alone can push. An existing table needs our columns, at least as wide as ours,
    and a unique key on exactly (run, model_name, epoch): without it every push would add
    its rows again instead of updating them.
    """
    shape = backend.table_shape(cur, table)
    if shape is None:
        cur.execute(backend.create_table(table))  # IF NOT EXISTS: another push may race us
        return
    where = f"{backend.where()}: table '{table}'"
    missing = [c for c in COLUMNS if c not in shape.columns]
    if missing:
        raise DbError(
            f"{where} exists without column(s) {', '.join(missing)}; "
            "it was made by something else: choose another db.table or migrate it"
        )
    narrow = [
        c
        for c in COLUMNS
        if (ours := _width(backend.types[c])) is not None
        and ((theirs := _width(shape.columns[c])) is None or theirs < ours)
    ]
    if narrow:
        shown = ", ".join(f"{c} ({shape.columns[c]})" for c in narrow)
        raise DbError(
            f"{where}: column(s) {shown} narrower than the values a push may hold; "
            f"widen them with: {backend.widen(table, narrow)}"
        )
    if frozenset(KEY_COLUMNS) not in shape.unique_keys:
        duplicated = _duplicate_keys(cur, backend, table)
        fix = (
            f"it already holds {duplicated} (run, model_name, epoch) key(s) more than once: "
            "delete all but one row of each, then run"
            if duplicated
            else "add the key with"
        )
        raise DbError(
            f"{where} has no primary key or unique index on exactly (run, model_name, epoch), "
            f"so every push would add its rows again; {fix}: {backend.add_key(table)}"
        )


def _record(row: EpochRow, run: RunIdentity, pushed_at: datetime) -> tuple[Any, ...]:
    """One row's values in COLUMNS order."""
    values = {
        "run": run.run,
        "git_rev": run.git_rev,
        "exp_name": run.exp_name,
        "pushed_at": pushed_at,
        **{c: getattr(row, c) for c in COLUMNS if hasattr(row, c)},
    }
    return tuple(values[c] for c in COLUMNS)


def push(
    target: Target,
    rows: Sequence[EpochRow],
    run: RunIdentity,
    after_batch: Callable[[int], None] | None = None,
) -> int:
    """Upsert the rows in one transaction (retried whole on transient errors); returns
    how many were sent. after_batch, if given, is called inside the open transaction
    after each model's rows are sent, with the number sent so far."""
    table = validate_identifier(target.table, "db.table")
    if len(run.run) > MAX_RUN:
        raise DbError(f"run identity longer than {MAX_RUN} characters")
    by_model: dict[str, list[EpochRow]] = {}
    for row in rows:
        by_model.setdefault(model_name(row.model_name, "push_db rows"), []).append(row)
    pushed_at = datetime.now(UTC).replace(tzinfo=None)

    def once(conn: Any, backend: Backend) -> int:
        cur = conn.cursor()
        # DDL first: in MySQL it commits implicitly, so it must not sit inside the push.
        ensure_table(cur, backend, table)
        backend.commit(conn)  # end the read's implicit transaction before starting ours
        backend.begin(conn)
        sql = backend.upsert(table)
        sent = 0
        try:
            for model_rows in by_model.values():
                values = [
                    tuple(backend.value(v) for v in _record(r, run, pushed_at)) for r in model_rows
                ]
                cur.executemany(sql, values)
                sent += len(values)
                if after_batch is not None:
                    after_batch(sent)
            backend.commit(conn)
        except BaseException:
            with suppress(Exception):
                backend.rollback(conn)
            raise
        return sent

    return _with_retries(target, once)


def fetch(
    target: Target, models: Iterable[str] = (), run_prefix: str = "", exp_name: str = ""
) -> list[dict[str, Any]]:
    """Stored rows, optionally only some models, runs whose id starts with run_prefix,
    and one `dvc exp` experiment."""
    table = validate_identifier(target.table, "db.table")
    models = list(models)
    if target.backend.store_missing():
        raise DbError(f"{target.where()}: not found; nothing has been pushed yet")

    def once(conn: Any, backend: Backend) -> list[dict[str, Any]]:
        q, mark = backend.quote, backend.mark
        where: list[str] = []
        args: list[Any] = []
        if models:
            where.append(f"{q('model_name')} IN ({backend.marks(len(models))})")
            args.extend(models)
        if run_prefix:
            where.append(f"SUBSTR({q('run')}, 1, {mark}) = {mark}")
            args.extend([len(run_prefix), run_prefix])
        if exp_name:
            where.append(f"{q('exp_name')} = {mark}")
            args.append(exp_name)
        sql = (
            f"SELECT {', '.join(q(c) for c in SHOWN_COLUMNS)} FROM {q(table)}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {q('run')}, {q('model_name')}, {q('epoch')}"
        )
        cur = conn.cursor()
        cur.execute(sql, args)
        return [dict(zip(SHOWN_COLUMNS, rec, strict=True)) for rec in cur.fetchall()]

    return _with_retries(target, once)

"""The embedded default: a SQLite file with the same table as the server backends."""

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fruitveg.db.backend import KEY_COLUMNS, VALUE_COLUMNS, Backend, Failure, TableShape


@dataclass(frozen=True)
class SQLite(Backend):
    path: Path  # resolved (from DVC_ROOT under `dvc exp`)
    shown_path: str  # as configured, for messages and the receipt

    name = "sqlite"
    mark = "?"
    types = {
        "run": "TEXT NOT NULL",
        "model_name": "TEXT NOT NULL",
        "epoch": "INTEGER NOT NULL",
        "start_time": "TEXT",  # 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
        "end_time": "TEXT",
        "train_accuracy": "REAL",
        "val_accuracy": "REAL",
        "train_loss": "REAL",
        "val_loss": "REAL",
        "learning_rate": "REAL",
        "git_rev": "TEXT",
        "exp_name": "TEXT",
        "pushed_at": "TEXT NOT NULL",
    }
    driver_errors = (sqlite3.Error,)

    def where(self) -> str:
        return f"SQLite file {self.shown_path}"

    def describe(self, table: str) -> dict[str, Any]:
        return {"backend": self.name, "path": self.shown_path, "table": table}

    def store_missing(self) -> bool:
        return not self.path.exists()

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'

    def table_shape(self, cur: Any, table: str) -> TableShape | None:
        # The pragma functions take the names as query parameters: nothing to quote.
        cur.execute("SELECT name, type FROM pragma_table_info(?)", (table,))
        columns = {name.lower(): kind for name, kind in cur.fetchall()}
        if not columns:
            return None
        cur.execute(
            'SELECT name FROM pragma_index_list(?) WHERE "unique" AND NOT partial', (table,)
        )
        keys = []
        for (index,) in cur.fetchall():
            cur.execute("SELECT name FROM pragma_index_info(?)", (index,))
            names = [name for (name,) in cur.fetchall()]
            if None not in names:  # an expression is no column
                keys.append(frozenset(n.lower() for n in names))
        return TableShape(columns, keys)

    def add_key(self, table: str) -> str:
        # SQLite cannot add a constraint to a table; a unique index serves the upsert alike.
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        index = self.quote(f"{table}_run_model_epoch")
        return f"CREATE UNIQUE INDEX {index} ON {self.quote(table)} ({key})"

    def upsert(self, table: str) -> str:
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        sets = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in VALUE_COLUMNS)
        return f"{self.insert(table)} ON CONFLICT ({key}) DO UPDATE SET {sets}"

    def value(self, v: Any) -> Any:
        # Same text form MySQL prints, without relying on sqlite3's deprecated adapters.
        return v.isoformat(sep=" ", timespec="microseconds") if isinstance(v, datetime) else v

    def connect(self, timeout_s: float) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE and COMMIT ourselves; the timeout
        # waits for a concurrent writer (another push) instead of failing at once.
        return sqlite3.connect(self.path, timeout=max(timeout_s, 30), isolation_level=None)

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through

    def explain(self, exc: BaseException, table: str) -> Failure:
        if not isinstance(exc, sqlite3.Error):
            return super().explain(exc, table)
        text = str(exc)  # no secrets here: SQLite has no credentials
        transient = isinstance(exc, sqlite3.OperationalError) and "locked" in text
        return Failure(transient, f"{self.where()}: {text}")

"""The interface every database backend implements, and the table they all hold.

A backend object is one database product plus where to reach it: it owns its SQL text
(column types, quoting, CREATE TABLE, the upsert, placeholders, value conversion), how to
connect, how a transaction begins, commits and rolls back, and how a driver's error is
explained (with whether it is worth a retry). Push and fetch (fruitveg.db.push) use only
this interface, so another product (PostgreSQL, say) is one more subclass.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple

from fruitveg.core.errors import PipelineError

# The training_logs table: one row per (run, model, epoch).
KEY_COLUMNS = ("run", "model_name", "epoch")
VALUE_COLUMNS = (
    "start_time",
    "end_time",
    "train_accuracy",
    "val_accuracy",
    "train_loss",
    "val_loss",
    "learning_rate",
    "git_rev",
    "exp_name",
    "pushed_at",
)
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS
# What show_logs prints, in order.
SHOWN_COLUMNS = ("model_name", "epoch", *VALUE_COLUMNS[:7], "run")  # start_time .. learning_rate
MAX_RUN = 191  # 191 utf8mb4 characters = 764 bytes: fits InnoDB's 767-byte key column limit


class DbError(PipelineError):
    """The push or query failed; the message says where and what to check, without secrets."""


class TableShape(NamedTuple):
    """An existing table as the database describes it, names in lower case."""

    columns: Mapping[str, str]  # column -> declared type, as the database prints it
    unique_keys: list[frozenset[str]]  # unique indexes (primary included) on whole columns


class Failure(NamedTuple):
    """A driver error as the user sees it: our own message, and whether to retry."""

    transient: bool
    message: str


class Backend(ABC):
    """One database product and the settings to reach it. Subclasses are frozen
    dataclasses that keep secrets out of repr(); where() and describe() never show them."""

    name: ClassVar[str]  # the receipt's "backend"
    mark: ClassVar[str]  # the query-parameter placeholder
    types: ClassVar[Mapping[str, str]]  # column -> SQL type, for every column of COLUMNS
    table_options: ClassVar[str] = ""  # after CREATE TABLE's closing parenthesis
    driver_errors: ClassVar[tuple[type[BaseException], ...]] = ()  # what explain() handles

    # --- where, without secrets -------------------------------------------------------

    @abstractmethod
    def where(self) -> str:
        """The target in words, for messages: 'SQLite file ...', 'MySQL server host:port'."""

    @abstractmethod
    def describe(self, table: str) -> dict[str, Any]:
        """The target as the receipt records it."""

    def store_missing(self) -> bool:
        """True when there is certainly nothing to read (no file yet), before connecting."""
        return False

    # --- SQL text -------------------------------------------------------------------

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """A validated identifier, quoted."""

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def create_table(self, table: str) -> str:
        cols = ", ".join(f"{self.quote(c)} {self.types[c]}" for c in COLUMNS)
        key = ", ".join(self.quote(c) for c in KEY_COLUMNS)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.quote(table)} ({cols}, PRIMARY KEY ({key}))"
            f"{self.table_options}"
        )

    @abstractmethod
    def table_shape(self, cur: Any, table: str) -> TableShape | None:
        """The table's columns and unique keys; None when it does not exist. A unique index
        that is partial or covers a prefix or an expression is left out: it is no key."""

    @abstractmethod
    def add_key(self, table: str) -> str:
        """The statement that gives an existing table its unique key on KEY_COLUMNS."""

    def widen(self, table: str, columns: list[str]) -> str:
        """The statement that gives existing columns our types (only where types have widths)."""
        raise NotImplementedError(f"{self.name} column types declare no widths")

    def insert(self, table: str) -> str:
        cols = ", ".join(self.quote(c) for c in COLUMNS)
        return f"INSERT INTO {self.quote(table)} ({cols}) VALUES ({self.marks(len(COLUMNS))})"

    @abstractmethod
    def upsert(self, table: str) -> str:
        """INSERT of COLUMNS that updates VALUE_COLUMNS when the KEY_COLUMNS exist."""

    def value(self, v: Any) -> Any:
        """A Python value (str, int, float, None, naive-UTC datetime) as the driver takes it."""
        return v

    # --- connections and transactions ---------------------------------------------------

    @abstractmethod
    def connect(self, timeout_s: float) -> Any:
        """A DB-API connection, outside any transaction; timeout_s bounds waits."""

    @abstractmethod
    def begin(self, conn: Any) -> None:
        """Start the one write transaction of a push."""

    def commit(self, conn: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        conn.rollback()

    # --- errors -----------------------------------------------------------------------

    def explain(self, exc: BaseException, table: str) -> Failure:
        """Our message for a failure (never the raw text where it could hold a secret)
        and whether it is transient. Subclasses handle their driver_errors first."""
        if isinstance(exc, OSError):
            return Failure(False, f"{self.where()}: {exc.strerror or exc.__class__.__name__}")
        return Failure(False, f"{self.where()}: {exc.__class__.__name__}")

"""push_db stage: every model's per-epoch history into the `training_logs` table.

Reads params.yaml: `db:` (see fruitveg.db.config; FRUITVEG_DB_* settings in the environment
or db.env override it) and the `models:` block. Without a host the target is the SQLite
file at db.sqlite_path. Output: a receipt without secrets.
"""

import logging
import sys

from fruitveg.core import history, paths
from fruitveg.core import params as prm
from fruitveg.core.atomic import write_json
from fruitveg.core.errors import run_stage
from fruitveg.core.model_config import model_configs
from fruitveg.db import config
from fruitveg.db.push import push
from fruitveg.db.rows import epoch_rows, run_identity


def main() -> None:
    params = prm.load()
    db = config.read_params(params)
    models = [m.name for m in model_configs(params)]
    target = config.resolve(db)
    rows = [row for m in models for row in epoch_rows(m, history.read(paths.history_csv(m)))]
    run = run_identity()
    written = push(target, rows, run)
    write_json(
        paths.PUSH_DB_RECEIPT,
        {
            "rows_written": written,
            "epochs": {m: sum(r.model_name == m for r in rows) for m in models},
            "target": target.describe(),
            "run": run.as_dict(),
        },
    )
    print(f"push_db: {written} rows into {target.where()}, table {target.table}, run {run.run}")


def log_to_stderr() -> None:
    """Only our own messages (retries); the MySQL connector logs its internals at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("push_db: %(message)s"))
    logging.getLogger("fruitveg").addHandler(handler)
    logging.getLogger("fruitveg").setLevel(logging.INFO)


if __name__ == "__main__":
    log_to_stderr()
    run_stage(main)

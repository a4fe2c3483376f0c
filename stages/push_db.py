"""push_db stage: every model's per-epoch history into the `training_logs` table.

Target: params.yaml `db:` and FRUITVEG_DB_* settings (see fruitveg.db.config); without a
host, the SQLite file at db.sqlite_path. Output: a receipt without secrets.
"""

import logging
import sys

from fruitveg.core import params, paths
from fruitveg.core.atomic import write_json
from fruitveg.core.errors import run_stage
from fruitveg.core.params import ParamError
from fruitveg.db.config import load_target
from fruitveg.db.push import push, read_history, run_identity


def main() -> None:
    settings = params.load()
    target = load_target(settings)
    models = params.get(settings, "models")
    if not isinstance(models, dict) or not models:
        raise ParamError("params.yaml: 'models' must map model names to their settings")
    rows = [row for model in models for row in read_history(paths.history_csv(model), model)]
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


if __name__ == "__main__":
    # Only our own messages (retries); the MySQL connector logs its internals at INFO.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("push_db: %(message)s"))
    logging.getLogger("fruitveg").addHandler(handler)
    logging.getLogger("fruitveg").setLevel(logging.INFO)
    run_stage(main)

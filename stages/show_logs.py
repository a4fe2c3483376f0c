"""Show what push_db stored, as the study's notebook printed it: one table, filtered.

    python stages/show_logs.py [--model NAME ...] [--run PREFIX] [--exp NAME] [--csv]

--run matches the start of the run id (the git revision, then @experiment under
`dvc exp`); --exp matches an experiment name as `dvc exp show` lists it.
Reads the same target as push_db (params.yaml `db:` and FRUITVEG_DB_* settings).
"""

import argparse
import sys

import pandas as pd

from fruitveg.core import params as prm
from fruitveg.core.errors import run_stage
from fruitveg.db import config
from fruitveg.db.backend import SHOWN_COLUMNS
from fruitveg.db.push import fetch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="only this model (repeat)")
    parser.add_argument("--run", default="", help="only runs whose id starts with this")
    parser.add_argument("--exp", default="", help="only this `dvc exp` experiment")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    args = parser.parse_args(argv)

    target = config.resolve(config.read_params(prm.load()))
    rows = fetch(target, models=args.model, run_prefix=args.run, exp_name=args.exp)
    if not rows:
        print(f"no rows in {target.where()}, table {target.table}, for that filter")
        return
    table = pd.DataFrame(rows, columns=list(SHOWN_COLUMNS))
    if args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(table.to_string(index=False))
        print(f"{len(rows)} rows from {target.where()}, table {target.table}")


if __name__ == "__main__":
    run_stage(main)

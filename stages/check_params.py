"""check_params: the names dvc.yaml builds paths and commands from, checked before any
stage that uses them can run; the results of models no longer listed, removed.

DVC deletes a stage's outputs before running it and runs its `cmd` through a shell, both
built from params.yaml's model keys (`data/models/${key}`, `python stages/train.py ${key}`;
the layout stage's tasks are dvc.yaml's own, `tasks` is checked all the same). Every
other stage depends on this one's output, so `dvc repro` (of any target), `dvc exp run`
and the sweeps stop here on a name such as '../x' or 'x;rm -r y'. The output's bytes never
change: the stages after it rerun for their own reasons only.
"""

from fruitveg.core import params, paths
from fruitveg.core.atomic import atomic_file
from fruitveg.core.errors import run_stage
from fruitveg.core.model_config import model_names
from fruitveg.core.results import remove_unlisted

CHECKED = "tasks and model names of params.yaml checked by stages/check_params.py\n"


def main() -> None:
    models = model_names(params.load())
    for path in remove_unlisted(models):
        print(f"removed {path}: its model is no longer in params.yaml")
    with atomic_file(paths.PARAMS_CHECKED) as fh:
        fh.write(CHECKED)


if __name__ == "__main__":
    run_stage(main)

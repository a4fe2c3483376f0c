"""layout@<task>: data/layouts/<task>/{train,validation,test}/<label>/ from data/raw; an empty
folder for a task that params.yaml `tasks` leaves out."""

import sys

from fruitveg.core import params, paths
from fruitveg.core.errors import run_stage
from fruitveg.layout.run import SKIPPED, run_layout, skip_layout
from fruitveg.layout.settings import check_task, layout_settings


def main() -> None:
    task = check_task(sys.argv[1] if len(sys.argv) > 1 else "")
    loaded = params.load()
    if task not in params.tasks(loaded):
        skip_layout(task)
        print(f"{paths.layout_dir(task)}: empty, {task} is {SKIPPED}")
        return
    settings = layout_settings(loaded, task)
    summary = run_layout(settings)
    for item in summary["unreadable"]:
        print(f"skipped unreadable {item['file']}: {item['reason']}", file=sys.stderr)
    leaks = sum(summary["removed_duplicates_of_test"].values())
    print(
        f"{paths.layout_dir(task)}: {summary['images']} images at {settings.image_size} px, "
        f"{leaks} duplicates of test images and {summary['removed_copies_of_train']} "
        f"validation copies of training images left out, {len(summary['unreadable'])} unreadable"
    )


if __name__ == "__main__":
    run_stage(main)

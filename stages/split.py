"""split: which split of the layouts each file of data/raw goes to (data.split)."""

from fruitveg.core import params, paths
from fruitveg.core.errors import run_stage
from fruitveg.split.run import run_split
from fruitveg.split.settings import split_settings


def main() -> None:
    settings = split_settings(params.load())
    s = run_split(settings)
    per_split = ", ".join(f"{k} {sum(s['counts'][k].values())}" for k in paths.SPLITS)
    print(
        f"{paths.SPLIT_ASSIGNMENT}: {s['files']} files ({per_split}), data.split: {s['mode']}; "
        f"{s['duplicate_groups']} duplicate groups, {s['groups_across_splits']} across splits"
    )


if __name__ == "__main__":
    run_stage(main)

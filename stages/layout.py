"""layout@<task>: data/layouts/<task>/{train,validation,test}/<label>/ from data/raw."""

import sys

from fruitveg.audit import duplicates as audit
from fruitveg.core import params, paths
from fruitveg.core.atomic import atomic_dir, write_json
from fruitveg.core.errors import run_stage
from fruitveg.data import classes, rawdata
from fruitveg.layout import build as layout

MIN_IMAGE_SIZE = 8


def main() -> None:
    task = sys.argv[1] if len(sys.argv) > 1 else ""
    if task not in paths.TASKS:
        raise params.ParamError(
            f"layout: task must be one of {', '.join(paths.TASKS)}, got {task!r}"
        )
    p = params.load()
    size = params.whole(p, "layout.image_size")
    if size < MIN_IMAGE_SIZE:
        raise params.ParamError(f"params.yaml: 'layout.image_size' must be >= {MIN_IMAGE_SIZE}")
    dedupe = params.get(p, "layout.dedupe")
    if not isinstance(dedupe, bool):
        raise params.ParamError(
            f"params.yaml: 'layout.dedupe' must be true or false, got {dedupe!r}"
        )
    files = rawdata.scan(paths.RAW)
    present = rawdata.classes_of(files)
    # The mapping is checked for both tasks: it is also the list of classes we expect.
    mapping = classes.binary_mapping(
        params.get(p, "classes.fruit"), params.get(p, "classes.vegetable"), present
    )
    labels = mapping if task == "binary" else {c: c for c in present}
    exclude = audit.leaked_files(paths.AUDIT_DUPLICATES) if dedupe else set()
    with atomic_dir(paths.layout_dir(task)) as tmp:
        summary = layout.build(files, labels, tmp, size, exclude)
    write_json(paths.layout_summary(task), {"task": task, "dedupe": dedupe, **summary})
    for item in summary["unreadable"]:
        print(f"skipped unreadable {item['file']}: {item['reason']}", file=sys.stderr)
    removed = sum(summary["removed_duplicates_of_test"].values())
    print(
        f"{paths.layout_dir(task)}: {summary['images']} images at {size} px, "
        f"{removed} duplicates of test images left out, {len(summary['unreadable'])} unreadable"
    )


if __name__ == "__main__":
    run_stage(main)

"""audit: unreadable files, duplicates and test leaks of data/raw, and a sample grid."""

import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fruitveg.audit import duplicates as audit
from fruitveg.core import params, paths
from fruitveg.core.atomic import atomic_file, write_json  # noqa: E402
from fruitveg.core.errors import run_stage  # noqa: E402
from fruitveg.data import rawdata  # noqa: E402
from fruitveg.data.images import ImageError, decode  # noqa: E402


def sample_grid(files: list[rawdata.RawFile], seed: int, n: int = 3) -> None:
    """A 3x3 grid of readable training images with their class names, as in the study."""
    train = [f for f in files if f.split == "train"]
    random.Random(seed).shuffle(train)
    fig, axes = plt.subplots(n, n, figsize=(9, 9))
    shown = iter(train)
    for ax in axes.flat:
        for f in shown:
            try:
                ax.imshow(decode(f.path, min_side=256))
                ax.set_title(f.cls)
                break
            except ImageError:
                continue
        ax.axis("off")
    fig.tight_layout()
    with atomic_file(paths.AUDIT_SAMPLES, "wb") as fh:
        fig.savefig(fh, format="png", dpi=80)
    plt.close(fig)


def main() -> None:
    p = params.load()
    max_distance = params.get(p, "audit.near_duplicate_distance")
    if isinstance(max_distance, bool) or not isinstance(max_distance, int) or max_distance < 0:
        raise params.ParamError(
            f"params.yaml: 'audit.near_duplicate_distance' must be a whole number >= 0, "
            f"got {max_distance!r}"
        )
    files = rawdata.scan(paths.RAW)
    report, rows = audit.audit(files, max_distance)
    audit.write_rows(paths.AUDIT_DUPLICATES, rows)
    write_json(paths.AUDIT_REPORT, report)
    sample_grid(files, seed=int(params.get(p, "seed")))
    print(
        f"{paths.AUDIT_REPORT}: {report['files']} files, {report['unreadable_files']} unreadable, "
        f"{report['duplicate_groups']} duplicate groups, "
        f"{report['leaked_test_images']} test images leaked into train/validation"
    )


if __name__ == "__main__":
    run_stage(main)

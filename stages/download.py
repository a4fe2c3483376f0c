"""download: fill data/raw from the source that params.yaml's data.source names."""

from collections import Counter

from fruitveg.core import params, paths
from fruitveg.core.errors import run_stage
from fruitveg.data import rawdata
from fruitveg.download import sources
from fruitveg.download.settings import download_settings


def main() -> None:
    settings = download_settings(params.load())
    files = sources.download(settings, paths.RAW)
    per_split = Counter(f.split or "unsplit" for f in files)
    print(
        f"{paths.RAW}: {len(files)} files in {len(rawdata.classes_of(files))} classes "
        f"({', '.join(f'{s} {n}' for s, n in per_split.items())}) from {settings.source}"
    )


if __name__ == "__main__":
    run_stage(main)

"""Settings shared by every test: DVC writes nothing outside the repository under test."""

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("DVC_SITE_CACHE_DIR", os.path.join(os.getcwd(), ".dvc", "tmp", "site_cache"))


def pytest_collection_modifyitems(items: list) -> None:
    """The end-to-end pipeline is the longest file: run it first, so that parallel workers
    (make test: pytest -n auto) finish together instead of waiting on it at the end."""
    items.sort(key=lambda item: item.get_closest_marker("pipeline") is None)

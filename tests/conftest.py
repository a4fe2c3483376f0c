"""Settings shared by every test: DVC writes nothing outside the repository under test."""

import os

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("DVC_SITE_CACHE_DIR", os.path.join(os.getcwd(), ".dvc", "tmp", "site_cache"))

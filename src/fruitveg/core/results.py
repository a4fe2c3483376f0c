"""Results of models no longer in params.yaml: removed, so that `dvc plots show` (which
reads plots/eval whole), scripts/review.py (every metrics/eval/*_predictions.csv) and
anyone browsing metrics/ see the listed models only.

Their stages left dvc.yaml with the model, so DVC no longer owns these files. Only the
models' cached outputs under data/ stay (data/models, data/exports): nothing reads them
without the model in params.yaml, and `dvc gc` reclaims their cache.
"""

import shutil
from collections.abc import Iterable
from pathlib import Path

from fruitveg.core import paths


def unlisted(models: Iterable[str]) -> list[Path]:
    """Entries of the per-model result folders that no model of `models` writes (hidden
    ones aside: a .gitignore, or an atomic write's temporary, which that write removes)."""
    kept = {p for m in models for p in paths.model_results(m)}
    folders = sorted({p.parent for p in kept})
    found = [p for f in folders if f.is_dir() for p in sorted(f.iterdir())]
    return [p for p in found if p not in kept and not p.name.startswith(".")]


def remove_unlisted(models: Iterable[str]) -> list[Path]:
    """Remove what `unlisted` finds; return it."""
    found = unlisted(models)
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return found

"""Every module a stage runs is one of its DVC dependencies, so `dvc repro` can't go stale.

For each stage of dvc.yaml (as DVC itself resolves it) the test follows the imports of
the stage's script through the package, transitively, and fails when an imported file
of src/ is not covered by the stage's `deps` (the file itself or a folder above it).
"""

import ast
import shutil
from pathlib import Path

import pytest
from dvc.repo import Repo

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "fruitveg"


def module_file(src: Path, dotted: str) -> Path | None:
    base = src.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the package's modules that `path` imports, at any depth of the code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import mod`
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def closure(script: Path, src: Path) -> set[Path]:
    """Files of src/ that running `script` imports, package __init__ files included."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        for dotted in imported_modules(todo.pop()):
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__
                f = module_file(src, ".".join(parts[:i]))
                if f is not None and f not in seen:
                    seen.add(f)
                    todo.append(f)
    return seen


def uncovered(root: Path) -> dict[str, list[str]]:
    """Per stage, the imported files of src/ that none of its deps covers."""
    missing: dict[str, list[str]] = {}
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            script = next(w for w in stage.cmd.split() if w.endswith(".py"))
            deps = [Path(d.def_path) for d in stage.deps]
            needed = closure(root / script, root / "src")
            gaps = sorted(
                f.relative_to(root).as_posix()
                for f in needed
                if not any(f.relative_to(root).is_relative_to(d) for d in deps)
            )
            if gaps:
                missing[stage.name] = gaps
    return missing


def test_every_stage_depends_on_all_the_code_it_imports() -> None:
    assert uncovered(REPO) == {}


def test_a_missing_folder_is_caught(tmp_path: Path) -> None:
    """Drop the data folder from the layout stages' deps: the check must notice."""
    for name in ("dvc.yaml", "params.yaml", "stages", "src"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, tmp_path / name)
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    no_scm = true\n")
    text = (tmp_path / "dvc.yaml").read_text()
    layout = text.index("  layout:")
    line = "        - src/fruitveg/data\n"
    cut = text.index(line, layout)
    (tmp_path / "dvc.yaml").write_text(text[:cut] + text[cut + len(line) :])
    missing = uncovered(tmp_path)
    assert set(missing) == {"layout@binary", "layout@multiclass"}
    assert "src/fruitveg/data/rawdata.py" in missing["layout@binary"]


@pytest.mark.parametrize("name", ["fruitveg.core.paths", "fruitveg.core"])
def test_closure_follows_from_imports(name: str) -> None:
    script = REPO / "stages" / "download.py"
    files = {f.relative_to(REPO).as_posix() for f in closure(script, REPO / "src")}
    assert module_file(REPO / "src", name).relative_to(REPO).as_posix() in files

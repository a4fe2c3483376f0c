"""`dvc plots show` and `dvc plots diff <rev>` draw every Vega chart without network.

A throwaway git+DVC repository gets this repository's DVC config, plot templates and
dvc.yaml `plots:` with small tables in the report's columns; DVC writes its page; headless
Chromium (Debian's `chromium`), with every host name unresolvable and a dead proxy, runs
the page and the test reads the drawn SVG marks of each chart from the DOM.

Needs `make plots-offline` (vega/page.html) and chromium (`make system`).
"""

import csv
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from PIL import Image

from fruitveg.report.plot_data import CONFUSION_COLUMNS, HISTORY_COLUMNS

from .models.helpers import env

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "vega" / "page.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No request can leave the machine: names do not resolve and any proxy use fails.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
MODELS = ("binary_cnn", "cnn")


def _dvc(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        env=env(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _write(path: Path, columns: tuple[str, ...], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([columns, *rows])


def _plot_data(root: Path, shift: float) -> None:
    """The files dvc.yaml's plots read, small; `shift` changes the numbers between revisions."""
    history = [
        [m, e, 1.0 / e + shift, 0.3 * e, 1.1 / e, 0.25 * e + shift, 1e-3]
        for m in MODELS
        for e in (1, 2, 3)
    ]
    _write(root / "plots/report/history.csv", HISTORY_COLUMNS, history)
    pairs = [("fruit", "fruit"), ("fruit", "vegetable"), ("vegetable", "vegetable")]
    _write(
        root / "plots/report/confusion.csv",
        CONFUSION_COLUMNS,
        [[m, *p] for m in MODELS for p in pairs],
    )
    roc = [[0.0, 0.0, "inf"], [0.1, 0.6 + shift, 0.7], [1.0, 1.0, 0.0]]
    _write(root / "plots/eval/binary_cnn/roc.csv", ("fpr", "tpr", "threshold"), roc)
    for png in ("plots/report/accuracy.png", "plots/report/accuracy_vs_cost.png",
                "plots/audit/samples.png", "plots/audit/copies.png",
                "plots/eval/binary_cnn/roc.png", "plots/explain/cnn_gradcam.png"):  # fmt: skip
        (root / png).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (200, 30, 30)).save(root / png)


def _vega_plots() -> int:
    """How many of dvc.yaml's plots are Vega charts: those with settings (a template, x, y);
    a bare path is a picture or a folder of pictures."""
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    return sum(isinstance(p, dict) for p in plots)


class _Marks(HTMLParser):
    """Per chart (a div vega-embed drew into): how many data marks have a drawn shape."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[int] = []
        self.body: dict[str, str | None] = {}
        self._stack: list[tuple[str, bool]] = []  # (tag, inside a data-mark group)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        inside = bool(self._stack) and self._stack[-1][1]
        if tag == "body":
            self.body = a
        if tag == "div" and "vega-embed" in classes:
            self.charts.append(0)
        if inside and tag == "path" and a.get("d") and self.charts:
            self.charts[-1] += 1
        if tag not in ("meta", "link", "img", "br", "input", "hr"):  # void elements
            self._stack.append((tag, inside or (tag == "g" and "role-mark" in classes)))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break


def _drawn(page: Path, tmp: Path) -> _Marks:
    """Run the page in headless Chromium, offline, and read the drawn marks from its DOM."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE,
         f"--user-data-dir={tmp / 'chromium-profile'}",
         "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    marks = _Marks()
    marks.feed(done.stdout)
    return marks


def _check(page: Path, tmp: Path) -> _Marks:
    html = page.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and 'src="http' not in html
    marks = _drawn(page, tmp)
    n = _vega_plots()
    assert marks.body.get("data-charts") == str(n), marks.body  # every chart settled
    assert marks.body.get("data-chart-errors") == "", marks.body["data-chart-errors"]
    assert len(marks.charts) == n and all(marks.charts), marks.charts  # each one drew marks
    return marks


@pytest.fixture
def plots_repo(tmp_path: Path) -> Path:
    if not PAGE.is_file():
        pytest.fail(f"{PAGE} missing: run `make plots-offline` (fetches the libraries)")
    if not CHROMIUM:
        pytest.fail("chromium missing: run `make system` (apt-get install chromium)")
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _dvc(root, "init", "-q")
    shutil.copy(REPO / ".dvc/config", root / ".dvc/config")
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")
    (root / "vega").mkdir()
    shutil.copy(PAGE, root / "vega/page.html")  # where .dvc/config's html_template points
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"plots": plots}, sort_keys=False))
    _plot_data(root, shift=0.0)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "main's plots")
    return root


@pytest.mark.slow
def test_plots_show_draws_every_chart_offline(plots_repo: Path, tmp_path: Path) -> None:
    _dvc(plots_repo, "plots", "show", "-q")
    _check(plots_repo / "dvc_plots/index.html", tmp_path)


@pytest.mark.slow
def test_plots_diff_against_a_revision_draws_offline(plots_repo: Path, tmp_path: Path) -> None:
    _plot_data(plots_repo, shift=0.05)  # the workspace differs from main
    _dvc(plots_repo, "plots", "diff", "main", "-q", "-o", "diff_plots")
    page = plots_repo / "diff_plots/index.html"
    html = page.read_text(encoding="utf-8")
    assert '"rev": "main"' in html and '"rev": "workspace"' in html  # both revisions' data
    _check(page, tmp_path)

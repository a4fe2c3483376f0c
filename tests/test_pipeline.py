"""End to end: `dvc repro` of the whole pipeline in a fresh copy of the repository.

Runs on a tiny configuration (a few images per class, small images, one epoch), then
checks that a second run changes nothing, that a layout setting reruns only the layouts
and what depends on them, and that an eighth model is one block of params.yaml: it trains,
is evaluated, enters the report's table and paired tests and every chart of `dvc plots`.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from .repo_copy import copy_repo

pytestmark = pytest.mark.pipeline


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc" / "tmp" / "site_cache"),
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def sh(cwd: Path, *args: str) -> str:
    done = run(cwd, *args)
    return done.stdout + done.stderr


def tiny(params: dict) -> None:
    params["data"]["synthetic"] = {"train": 3, "validation": 2, "test": 2, "leaks": 2}
    params["layout"]["image_size"] = 32
    for model in params.get("models", {}).values():
        model["epochs"] = 1
        model["batch_size"] = 16


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    copy_repo(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    tiny(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "init", "-q")
    sh(root, "git", "add", "-A")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny")
    return root


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def test_repro_from_scratch_then_nothing_to_do(repo: Path) -> None:
    first = ran(sh(repo, "dvc", "repro"))
    assert {"download", "audit", "layout@binary", "layout@multiclass"} <= first
    report = json.loads((repo / "metrics" / "audit" / "report.json").read_text())
    assert report["leaked_test_images"] == 2 and report["unreadable_files"] == 0
    assert (repo / "plots" / "audit" / "samples.png").stat().st_size > 10_000
    sizes = {p.stat().st_size > 0 for p in (repo / "data" / "layouts").rglob("*.jpg")}
    assert sizes == {True}
    again = sh(repo, "dvc", "repro")
    assert ran(again) == set() and "Data and pipelines are up to date" in again
    assert "changed" not in sh(repo, "dvc", "status")


def stale(repo: Path) -> set[str]:
    """Stages that `dvc status` says are out of date."""
    status = sh(repo, "dvc", "status")
    print(status)  # shown when an assertion below fails
    return set(re.findall(r"^([\w@.-]+):$", status, re.M))


def test_image_size_makes_only_layouts_and_dependants_stale(repo: Path) -> None:
    """Without retraining: rebuild the layouts alone, then ask DVC what else is stale."""
    sh(repo, "dvc", "repro")
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["layout"]["image_size"] = 40
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert stale(repo) == {"layout@binary", "layout@multiclass"}
    layouts = ran(sh(repo, "dvc", "repro", "layout@binary", "layout@multiclass"))
    assert layouts == {"layout@binary", "layout@multiclass"}
    img = next((repo / "data" / "layouts" / "multiclass" / "test").rglob("*.jpg"))
    with Image.open(img) as im:
        assert im.size == (40, 40)
    models = params["models"]
    trained = {f"{s}@{m}" for s in ("train", "evaluate", "export") for m in models}
    # the report reads the layouts' summaries; explain reads the multiclass test images
    assert stale(repo) == trained | {"report", "explain"}
    # Back to the old size: the layouts come out byte-identical, so nothing else is stale.
    (repo / "params.yaml").write_text(original)
    sh(repo, "dvc", "repro", "layout@binary", "layout@multiclass")
    assert stale(repo) == set()


def test_an_eighth_model_is_one_params_block(repo: Path, tmp_path: Path) -> None:
    sh(repo, "dvc", "repro")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    models = params["models"]
    models["cnn_cbam"] = {**models["cnn"], "attention": "cbam"}  # params.yaml only
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = ran(sh(repo, "dvc", "repro"))
    assert {"train@cnn_cbam", "evaluate@cnn_cbam", "report"} <= rerun
    assert {s for s in rerun if s.startswith(("train@", "evaluate@"))} == {
        "train@cnn_cbam", "evaluate@cnn_cbam"
    }  # fmt: skip

    report = json.loads((repo / "metrics" / "report.json").read_text())
    assert [r["model"] for r in report["models"]] == list(models)
    pairs = [(t["a"], t["b"]) for t in report["paired_tests"]]
    assert pairs[:3] == [("cnn", "cnn_attention"), ("cnn", "cnn_cbam"),
                         ("cnn_attention", "cnn_cbam")]  # fmt: skip
    markdown = (repo / "metrics" / "report.md").read_text()
    assert "\n| cnn_cbam | multiclass |" in markdown and "\n| cnn | cnn_cbam |" in markdown

    shown = json.loads(run(repo, "dvc", "plots", "show", "--json", "-o", str(tmp_path)).stdout)
    plots = shown["data"]

    def drawn(plot_id: str) -> set[str]:
        (plot,) = plots[plot_id]
        return {point["model"] for point in plot["content"]["data"]["values"]}

    for plot_id in ("loss", "val_loss", "accuracy", "val_accuracy", "confusion"):
        assert drawn(plot_id) == set(models), plot_id
    for name in models:
        for picture in ("confusion.png", "curves.png"):
            assert plots[f"plots/eval/{name}/{picture}"][0]["type"] == "image"
    assert plots["plots/eval/binary_cnn/roc.csv"][0]["type"] == "vega"
    assert "plots/eval/binary_cnn/roc.png" in plots
    # explain: a Grad-CAM grid per multiclass model, the attention pictures per attention
    # model; the placeholder backbones (random, frozen: the default's) are left out
    placeholder = {
        n for n, m in models.items() if m.get("weights") == "none" and m.get("freeze_backbone")
    }
    multiclass = {n for n, m in models.items() if m["task"] == "multiclass"} - placeholder
    assert {"cnn", "cnn_cbam"} <= multiclass and "vgg16" not in multiclass
    explained = {p.removeprefix("plots/explain/") for p in plots if p.startswith("plots/explain/")}
    attention = {n for n in multiclass if models[n]["attention"] != "none"}
    assert explained == {f"{n}_gradcam.png" for n in multiclass} | {
        f"{n}_attention.png" for n in attention
    }
    assert all(plots[f"plots/explain/{p}"][0]["type"] == "image" for p in explained)
    numbers = json.loads((repo / "metrics" / "explain" / "attention.json").read_text())
    assert numbers["cnn_cbam"]["paired_with"] == "cnn"  # CBAM's channel step, beside cnn
    assert "| cnn | cnn_cbam |" in markdown.split("### Early learning speed")[1]

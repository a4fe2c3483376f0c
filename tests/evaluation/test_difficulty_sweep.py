"""scripts/difficulty_sweep.py: the table and the picture from fabricated experiments
(`dvc exp show --json` entries and dvc.lock files), and one sweep of a tiny DVC pipeline
whose stages are trivial scripts."""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from .conftest import REPO, run

SCRIPTS = REPO / "scripts"


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(SCRIPTS))  # the scripts import their _experiments
    return importlib.import_module("difficulty_sweep")


def experiment(level: float | None, accuracy: dict[str, tuple[float, float, float]]) -> dict:
    """One experiment as _experiments.experiments() gives it (its rev: its level)."""
    synthetic = {} if level is None else {"difficulty": level}
    models = {"binary_cnn": {"task": "binary"}, "cnn": {"task": "multiclass"}, "vgg16": {}}
    return {
        "rev": f"rev-{level}",
        "params": {"params.yaml": {"data": {"data": {"synthetic": synthetic}, "models": models}}},
        "metrics": {
            f"metrics/eval/{m}.json": {"data": {m: {"accuracy": a, "acc_low": lo, "acc_high": hi}}}
            for m, (a, lo, hi) in accuracy.items()
        },
    }


def lock(layout_md5: str, evaluated: dict[str, str]) -> dict:
    """A dvc.lock: the layout stage wrote `layout_md5`; evaluate@<m> read evaluated[m]."""
    stages = {
        "layout@multiclass": {"outs": [{"path": "data/layouts/multiclass", "md5": layout_md5}]}
    }
    for model, md5 in evaluated.items():
        deps = [{"path": f"data/models/{model}", "md5": "m"},
                {"path": "data/layouts/multiclass", "md5": md5}]  # fmt: skip
        stages[f"evaluate@{model}"] = {"deps": deps}
    return {"schema": "2.0", "stages": stages}


FOUND = {
    "difficulty-0": experiment(None, {"cnn": (0.5, 0.4, 0.6), "vgg16": (0.3, 0.2, 0.4)}),
    "difficulty-2": experiment(2, {"cnn": (0.25, 0.15, 0.35), "vgg16": (0.3, 0.2, 0.4)}),
    "difficulty-4.5": experiment(4.5, {"cnn": (0.125, 0.05, 0.2)}),
}
# vgg16 was left out of the level-2 run: its metrics (and lock entry) are level 0's.
LOCKS = {
    "difficulty-0": lock("a.dir", {"cnn": "a.dir", "vgg16": "a.dir"}),
    "difficulty-2": lock("b.dir", {"cnn": "b.dir", "vgg16": "a.dir"}),
    "difficulty-4.5": lock("c.dir", {"cnn": "c.dir"}),
}


def test_results_keep_what_each_experiment_evaluated_on_its_own_data(sweep) -> None:
    rows = sweep.results(FOUND, LOCKS, ["cnn", "vgg16"])
    got = {(r.model, r.level): (r.accuracy, r.low, r.high) for r in rows}
    assert got == {
        ("cnn", 0.0): (0.5, 0.4, 0.6),  # no difficulty in params: level 0
        ("vgg16", 0.0): (0.3, 0.2, 0.4),
        ("cnn", 2.0): (0.25, 0.15, 0.35),
        ("cnn", 4.5): (0.125, 0.05, 0.2),
    }  # (vgg16 at level 2: stale, left out)
    assert sweep.results(FOUND, LOCKS, ["cnn"]) == [r for r in rows if r.model == "cnn"]


def test_table_has_a_row_per_model_and_a_column_per_level(sweep) -> None:
    text = sweep.accuracy_table(sweep.results(FOUND, LOCKS, ["cnn", "vgg16"]))
    lines = text.splitlines()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[:4]]
    assert cells[0] == ["model", "difficulty 0", "difficulty 2", "difficulty 4.5"]
    assert cells[2] == ["cnn", "50.0 [40.0, 60.0]", "25.0 [15.0, 35.0]", "12.5 [5.0, 20.0]"]
    assert cells[3] == ["vgg16", "30.0 [20.0, 40.0]", "-", "-"]
    assert "95 % exact (Clopper-Pearson) interval" in text


def test_figure_draws_every_model_with_its_interval_bars(sweep) -> None:
    rows = sweep.results(FOUND, LOCKS, ["cnn", "vgg16"])
    ax = sweep.figure(rows).axes[0]
    by_label = {c.get_label(): c for c in ax.containers}
    assert sorted(by_label) == ["cnn", "vgg16"]
    for model, container in by_label.items():
        mine = sorted((r for r in rows if r.model == model), key=lambda r: r.level)
        line, _, (bars,) = container.lines
        x, y = line.get_data()
        assert np.allclose(y, [100 * r.accuracy for r in mine])
        assert np.allclose(np.round(x), [r.level for r in mine], atol=0.5)  # nudged a little
        assert not np.allclose(x, [r.level for r in mine])  # two models: apart
        ends = np.array([seg[:, 1] for seg in bars.get_segments()])
        assert np.allclose(ends, [[100 * r.low, 100 * r.high] for r in mine])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "2", "4.5"]


def labels_csv(labels: str) -> str:
    """A predictions file whose test images have these true labels (one letter each)."""
    return "path,actual,predicted\n" + "".join(f"{i}.jpg,{a},{a}\n" for i, a in enumerate(labels))


def test_majority_class_per_task_and_level_from_the_test_labels(sweep) -> None:
    found = FOUND | {"difficulty-2": experiment(2, {"binary_cnn": (0.9, 0.8, 0.95),
                                                    "cnn": (0.25, 0.15, 0.35)})}  # fmt: skip
    locks = LOCKS | {"difficulty-2": lock("b.dir", {"cnn": "b.dir", "vgg16": "a.dir"})}
    locks["difficulty-2"]["stages"]["layout@binary"] = {
        "outs": [{"path": "data/layouts/binary", "md5": "B"}]
    }
    locks["difficulty-2"]["stages"]["evaluate@binary_cnn"] = {
        "deps": [{"path": "data/layouts/binary", "md5": "B"}]
    }
    files = {  # (rev, model) -> true test labels
        ("rev-None", "cnn"): "aabbcc",  # (vgg16 of level 0 shares the task: not read)
        ("rev-2", "cnn"): "aabbcd",
        ("rev-2", "binary_cnn"): "fvvv",
        ("rev-4.5", "cnn"): "abcd",
    }
    read_files = []

    def read(rev: str, path: str) -> str | None:
        model = Path(path).name.removesuffix("_predictions.csv")
        read_files.append((rev, model))
        return labels_csv(files[rev, model]) if (rev, model) in files else None

    majority = sweep.majorities(found, locks, ["binary_cnn", "cnn", "vgg16"], read)
    got = {(m.task, m.level): m.accuracy for m in majority}
    assert got == {("multiclass", 0.0): 2 / 6, ("multiclass", 2.0): 2 / 6,
                   ("binary", 2.0): 3 / 4, ("multiclass", 4.5): 1 / 4}  # fmt: skip
    assert ("rev-None", "vgg16") not in read_files
    rows = sweep.results(found, locks, ["binary_cnn", "cnn", "vgg16"])
    text = sweep.accuracy_table(rows, majority)
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in text.splitlines() if line.startswith("| majority")}  # fmt: skip
    assert cells == {"majority class (multiclass)": ["33.3", "33.3", "25.0"],
                     "majority class (binary)": ["-", "75.0", "-"]}  # fmt: skip
    ax = sweep.figure(rows, majority).axes[0]
    dashed = {line.get_label(): line.get_data() for line in ax.get_lines()
              if line.get_linestyle() == "--"}  # fmt: skip
    assert sorted(dashed) == ["majority class (binary)", "majority class (multiclass)"]
    assert list(dashed["majority class (multiclass)"][1]) == pytest.approx([100 / 3, 100 / 3, 25])


def test_write_gives_the_table_and_a_png(sweep, tmp_path: Path) -> None:
    rows = sweep.results(FOUND, LOCKS, ["cnn"])
    md, png = sweep.write(rows, tmp_path / "out")
    assert md.read_text() == sweep.accuracy_table(rows) + "\n"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 400


def test_failed_or_unfinished_runs_are_not_read(sweep) -> None:
    def exp(name: str, state: str | None) -> dict:
        executor = None if state is None else {"state": state}
        return {"name": name, "executor": executor,
                "revs": [{"name": name, "rev": name, "data": {"params": {}}}]}  # fmt: skip

    shown = [
        {"rev": "workspace", "data": {}},
        {"rev": "abc", "data": {"params": {}}, "experiments": [
            exp("done", "success"), exp("kept", None), exp("broken", "failed"),
            exp("waiting", "queued"), exp("busy", "running")]},
    ]  # fmt: skip
    found = sys.modules["_experiments"].experiments(shown)
    assert sorted(found) == ["HEAD (baseline)", "done", "kept"]


def test_arguments_are_checked_before_anything_runs(sweep) -> None:
    assert sweep.parse_levels(["3", "0", "1.5"]) == [0.0, 1.5, 3.0]
    for bad, message in ((["x"], "not a number"), (["6"], "a level is from 0 to 5"),
                         (["1", "1"], "given twice")):  # fmt: skip
        with pytest.raises(sweep.SweepError, match=message):
            sweep.parse_levels(bad)
    with pytest.raises(sweep.SweepError, match="expected key=value"):
        sweep.parse_sets(["layout.image_size"])
    with pytest.raises(sweep.SweepError, match="sets data.synthetic.difficulty itself"):
        sweep.parse_sets(["data.synthetic.difficulty=2"])
    assert sweep.parse_traits(None) == [] and sweep.parse_traits(["scale", "clutter"]) == [
        "scale", "clutter"]  # fmt: skip
    with pytest.raises(sweep.SweepError, match="--traits 'fog': not a trait"):
        sweep.parse_traits(["fog"])
    params = {"data": {"source": "synthetic"}, "models": {"cnn": {}, "vgg16": {}}}
    assert sweep.check_models(params, None) == ["cnn", "vgg16"]
    assert sweep.check_models(params, ["vgg16"]) == ["vgg16"]
    with pytest.raises(sweep.SweepError, match=r"unknown model 'alexnet' \(models: has cnn, vgg16"):
        sweep.check_models(params, ["alexnet"])
    with pytest.raises(sweep.SweepError, match="data.source must be synthetic"):
        sweep.check_models(params | {"data": {"source": "kaggle"}}, None)


# A tiny pipeline of the real one's shape: download (reads data.synthetic.difficulty),
# layout, evaluate@<model> writing metrics/eval/<model>.json; "accuracy" falls with the level.
PARAMS = """\
seed: 1
data: {source: synthetic, synthetic: {difficulty: 0}}
models: {cnn: {}, vgg16: {}}
"""
DVC_YAML = """\
stages:
  download:
    cmd: python download.py
    deps: [download.py]
    params: [data]
    outs: [raw.txt]
  layout:
    foreach: [multiclass]
    do:
      cmd: mkdir -p data/layouts && cp raw.txt data/layouts/${item}
      deps: [raw.txt]
      outs: ["data/layouts/${item}"]
  evaluate:
    foreach: ${models}
    do:
      cmd: python evaluate.py ${key}
      deps: [evaluate.py, data/layouts/multiclass]
      params: ["models.${key}"]
      metrics:
        - metrics/eval/${key}.json:
            cache: false
"""
DOWNLOAD = """\
import pathlib, yaml
params = yaml.safe_load(open("params.yaml"))
pathlib.Path("raw.txt").write_text(str(params["data"]["synthetic"]["difficulty"]))
"""
EVALUATE = """\
import json, pathlib, sys
model = sys.argv[1]
level = float(pathlib.Path("data/layouts/multiclass").read_text())
acc = round(0.9 - level / 10, 4)
out = pathlib.Path(f"metrics/eval/{model}.json")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps({model: {"accuracy": acc, "acc_low": acc - 0.1, "acc_high": acc + 0.05}}))
"""


@pytest.mark.slow  # starts dvc, its queue worker and git
def test_sweep_of_a_tiny_pipeline(git_dvc_repo: Path) -> None:
    repo = git_dvc_repo
    (repo / "params.yaml").write_text(PARAMS)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "download.py").write_text(DOWNLOAD)
    (repo / "evaluate.py").write_text(EVALUATE)
    run(repo, sys.executable, "-m", "dvc", "repro", "-q")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "baseline")
    script = str(SCRIPTS / "difficulty_sweep.py")
    done = run(repo, sys.executable, script, "--models", "cnn", "--levels", "1", "3",
               "--timeout", "240", timeout=300)  # fmt: skip
    table = done.stdout[done.stdout.index("| model") :].split("\n\n")[0].splitlines()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in table]
    assert cells[0] == ["model", "difficulty 1", "difficulty 3"]
    assert cells[2:] == [["cnn", "80.0 [70.0, 85.0]", "60.0 [50.0, 65.0]"]]  # no vgg16: not run
    assert (repo / "plots" / "sweeps" / "difficulty.png").stat().st_size > 1000
    # Read back, every model asked for: vgg16 kept the baseline's metrics, so it is left out.
    shown = run(repo, sys.executable, script, "--show", "difficulty-1", "difficulty-3")
    assert "| vgg16" not in shown.stdout and "| cnn " in shown.stdout
    # Some traits only: a list setting, and the experiment named after them.
    run(repo, sys.executable, script, "--models", "cnn", "--levels", "2", "--traits", "occlusion",
        "scale", "--timeout", "240", timeout=300)  # fmt: skip
    found = {}
    for baseline in json.loads(
        run(repo, sys.executable, "-m", "dvc", "exp", "show", "--json").stdout
    ):
        for exp in baseline.get("experiments") or []:
            rev = exp["revs"][0]
            found[rev["name"]] = rev["data"]["params"]["params.yaml"]["data"]["data"]["synthetic"]
    assert found["difficulty-2-occlusion-scale"] == {
        "difficulty": 2,
        "traits": ["occlusion", "scale"],
    }


def test_show_refuses_two_experiments_at_one_level_naming_both(
    sweep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(PARAMS)
    occlusion = experiment(2, {"cnn": (0.7, 0.6, 0.8)})
    occlusion["params"]["params.yaml"]["data"]["data"]["synthetic"]["traits"] = ["occlusion"]
    found = FOUND | {"difficulty-2-occlusion": occlusion}
    locks = LOCKS | {"difficulty-2-occlusion": lock("d.dir", {"cnn": "d.dir"})}
    monkeypatch.setattr(sweep, "show", lambda: found)
    monkeypatch.setattr(
        sweep, "lock", lambda data: locks[next(n for n in found if found[n] is data)]
    )
    names = ["difficulty-0", "difficulty-2", "difficulty-2-occlusion"]
    assert sweep.main(["--models", "cnn", "--show", *names, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err == (
        "difficulty_sweep: difficulty-2 (traits: all) and difficulty-2-occlusion (traits: "
        "occlusion) are all at difficulty 2: the table has one column per level; --show one "
        "of them (another in a run with its own --out)\n"
    )
    assert not (tmp_path / "o").exists()
    assert sweep.main(["--models", "cnn", "--show", *names[1:], "--out", str(tmp_path / "o")]) == 1
    assert sweep.main(["--models", "cnn", "--show", *names[:2], "--out", str(tmp_path / "o")]) == 0

"""report: the comparison table, paired tests and comparison pictures of every model.

Usage: python stages/report.py   (from the repository root)
Reads params.yaml: models.<model>.task and .lr for every model. Writes metrics/report.json,
metrics/report.md and plots/report/*.png.
"""

from fruitveg.core import params as prm
from fruitveg.core import paths
from fruitveg.core.errors import run_stage
from fruitveg.report import build as report


def models_from(params: dict) -> list[report.ModelInfo]:
    models = prm.get(params, "models")
    if not isinstance(models, dict) or not models:
        raise prm.ParamError("params.yaml: 'models' must map model names to their settings")
    infos = []
    for name in models:
        task = prm.choice(params, f"models.{name}.task", paths.TASKS)
        lr = prm.get(params, f"models.{name}.lr")
        try:
            lr = float(lr)  # float(), not isinstance: `dvc exp run -S` writes 1e-05 (YAML 1.2)
        except (TypeError, ValueError):
            message = f"params.yaml: 'models.{name}.lr' must be a number, got {lr!r}"
            raise prm.ParamError(message) from None
        infos.append(report.ModelInfo(name, task, lr))
    return infos


def main() -> None:
    content = report.build(models_from(prm.load()))
    report.write(content)
    print(f"report: {len(content['models'])} models -> {report.REPORT_MD}, {report.REPORT_JSON}")
    for t in content["paired_tests"]:
        print(f"  {t['a']} vs {t['b']}: p = {t['p_value']:.3g} ({t['verdict']})")


if __name__ == "__main__":
    run_stage(main)

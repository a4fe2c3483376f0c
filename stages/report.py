"""report: the comparison table, paired tests and comparison pictures of every model.

Usage: python stages/report.py   (from the repository root)
Reads params.yaml: models (every model's settings: the table, and the pairs compared),
report.pairs, and data with seed (the data source, for the header). Also reads what
evaluation, the layouts and the audit wrote (metrics/) and data/raw's hash in dvc.lock.
Writes metrics/report.json, metrics/report.md and plots/report/ (two pictures and the
long-format tables that dvc.yaml's plots draw for every model).
"""

from fruitveg.core import params, paths
from fruitveg.core.errors import run_stage
from fruitveg.report.build import build
from fruitveg.report.inputs import read_inputs
from fruitveg.report.outputs import write
from fruitveg.report.settings import report_settings


def main() -> None:
    settings = report_settings(params.load())  # every setting checked, once
    inputs = read_inputs(settings.models)
    content = build(settings, inputs)
    write(content, settings, inputs)
    print(f"report: {len(content['models'])} models -> {paths.REPORT_MD}, {paths.REPORT_JSON}")
    for t in content["paired_tests"]:
        print(f"  {t['a']} vs {t['b']}: p = {t['p_value']:.3g} ({t['verdict']})")


if __name__ == "__main__":
    run_stage(main)

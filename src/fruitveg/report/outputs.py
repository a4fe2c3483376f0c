"""Everything the report stage writes (paths in fruitveg.core.paths)."""

from typing import Any

from fruitveg.core import paths
from fruitveg.core.atomic import atomic_file, write_json
from fruitveg.report import lightening
from fruitveg.report.figures import plot_accuracy, plot_cost
from fruitveg.report.inputs import Inputs
from fruitveg.report.markdown import to_markdown
from fruitveg.report.plot_data import write_confusion, write_histories
from fruitveg.report.settings import ReportSettings


def write(content: dict[str, Any], settings: ReportSettings, inputs: Inputs) -> None:
    """metrics/report.{json,md} and plots/report/: three pictures and the long-format tables."""
    paths.REPORT_PLOTS.mkdir(parents=True, exist_ok=True)
    plot_accuracy(content["models"], content["baselines"], paths.REPORT_ACCURACY_PNG)
    plot_cost(content["models"], paths.REPORT_COST_PNG)
    lightening.plot(content["lightening"], paths.REPORT_LIGHTENING_PNG)
    write_histories(settings, inputs)
    write_confusion(settings, inputs)
    with atomic_file(paths.REPORT_MD) as fh:
        fh.write(to_markdown(content))
    write_json(paths.REPORT_JSON, content)

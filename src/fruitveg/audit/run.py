"""The audit step: report, duplicate list, contact sheet of copies and sample grid of a
raw dataset folder."""

from pathlib import Path
from typing import Any

from fruitveg.audit import duplicates
from fruitveg.audit.samples import sample_grid
from fruitveg.audit.settings import AuditSettings
from fruitveg.audit.sheet import copies_sheet
from fruitveg.core import paths
from fruitveg.core.atomic import write_json
from fruitveg.data import rawdata


def run_audit(
    settings: AuditSettings,
    raw: Path = paths.RAW,
    report_path: Path = paths.AUDIT_REPORT,
    duplicates_path: Path = paths.AUDIT_DUPLICATES,
    samples_path: Path = paths.AUDIT_SAMPLES,
    copies_path: Path = paths.AUDIT_COPIES,
) -> dict[str, Any]:
    """Audit `raw` and write the four outputs; returns the report."""
    files = rawdata.scan(raw)
    report, rows = duplicates.audit(files, settings)
    duplicates.write_rows(duplicates_path, rows)
    write_json(report_path, report)
    copies_sheet(rows, files, copies_path)
    sample_grid(files, settings.seed, samples_path)
    return report

"""audit: unreadable files, duplicates and test leaks of data/raw, a contact sheet of the
copies across splits or classes, and a sample grid."""

from fruitveg.audit.run import run_audit
from fruitveg.audit.settings import audit_settings
from fruitveg.core import evidence, params, paths
from fruitveg.core.errors import run_stage


def main() -> None:
    report = run_audit(audit_settings(params.load()))
    print(
        f"{paths.AUDIT_REPORT}: {report['files']} files, {report['unreadable_files']} unreadable, "
        f"{report['duplicate_groups']} duplicate groups, "
        f"{report['leaked_test_images']} test images leaked into train/validation, "
        f"{report['validation_copies_of_train']} validation copies of training images; "
        f"copies found: {evidence.by_evidence(report['copies_by_evidence'])}, "
        f"{report['pairs_compared']} pairs compared closely"
    )


if __name__ == "__main__":
    run_stage(main)

"""The comparison of every model: settings (params.yaml -> ReportSettings, once), pairs
(which models the paired tests compare), inputs (what evaluation, the layouts and the audit
wrote, and data/raw's hash in dvc.lock), baselines (majority class and chance), build
(header, table, tests against the majority class, paired tests, confused pairs), markdown,
figures, plot_data (long-format tables for DVC's plots) and outputs (all of it written)."""

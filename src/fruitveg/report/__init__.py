"""The comparison of every model: settings (params.yaml -> ReportSettings, once), pairs
(which models the paired tests compare), inputs (what evaluation wrote), build (table,
paired tests, confused pairs), markdown, figures, plot_data (long-format tables for DVC's
plots) and outputs (all of it written)."""

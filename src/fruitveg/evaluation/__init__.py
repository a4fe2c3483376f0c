"""Evaluating one trained model on its test split: settings (params.yaml -> EvaluateSettings,
once), loading (model, labels, test images), inference (outputs and speed), statistics
(bootstrap interval, cross-entropy, exact McNemar test), scores (metrics from outputs),
plots (pictures and ROC points), files (atomic CSV and PNG) and evaluate (all of it)."""

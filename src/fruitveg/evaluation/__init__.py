"""Evaluating one trained model on its test split: settings (params.yaml -> EvaluateSettings,
once), loading (model, labels, test images), inference (logits and speed), statistics
(exact and BCa intervals, cross-entropy, calibration error, exact McNemar test, Holm),
scores (metrics from class probabilities),
plots (pictures and ROC points), files (atomic CSV and PNG) and evaluate (all of it)."""

"""Training one model: settings (params.yaml -> TrainSettings, once), runtime (seeds,
precision, strategy), inputs (tf.data), callbacks, backup (resume state) and loop (train)."""

"""Lightening one trained model: TensorFlow Lite in four formats (convert), run by the
LiteRT interpreter (runtime), each scored on the test images beside the Keras model in one
run (run: accuracy, agreement, exact McNemar, size, latency, throughput), with settings read
once from params.yaml (settings)."""

"""Model outputs (logits) for the test images, and how fast the model produces them."""

import time
from typing import Any

import numpy as np

LATENCY_SAMPLES = 20


def predict(model: Any, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Model outputs for all images, and the throughput of a timed pass in images/s."""
    batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    # Warm up on each batch shape first so tracing doesn't count as inference time.
    for shape_example in {b.shape: b for b in batches}.values():
        model.predict_on_batch(shape_example.astype(np.float32))
    start = time.perf_counter()
    outputs = [np.asarray(model.predict_on_batch(b.astype(np.float32))) for b in batches]
    seconds = time.perf_counter() - start
    return np.concatenate(outputs).astype(np.float64), len(images) / seconds


def latency_ms(model: Any, images: np.ndarray, samples: int = LATENCY_SAMPLES) -> float:
    """Median time to classify one image on its own, in milliseconds."""
    singles = [images[i : i + 1].astype(np.float32) for i in range(min(samples, len(images)))]
    model.predict_on_batch(singles[0])
    times = []
    for x in singles:
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))

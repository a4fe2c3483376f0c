"""Model outputs (logits) for the test images, and how fast the model produces them."""

import time
from typing import Any

import numpy as np

LATENCY_SAMPLES = 20


def predict(model: Any, images: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Model outputs for all images, and the throughput of a timed pass in images/s.

    The last batch is padded to the others' size, so the model is traced for one shape only
    (about 3 s for ResNet50 on a CPU) and the timed pass counts no tracing.
    """
    n = len(images)
    padded = np.concatenate([images, np.zeros((-n % batch_size, *images.shape[1:]), images.dtype)])
    batches = [padded[i : i + batch_size].astype(np.float32) for i in range(0, n, batch_size)]
    model.predict_on_batch(batches[0])  # the trace
    start = time.perf_counter()
    outputs = [np.asarray(model.predict_on_batch(b)) for b in batches]
    seconds = time.perf_counter() - start
    return np.concatenate(outputs)[:n].astype(np.float64), n / seconds


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

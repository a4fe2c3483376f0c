"""export@<model>: the trained model in TensorFlow Lite formats, each scored against Keras.

Usage: python stages/export.py <model>   (from the repository root)
Reads params.yaml: models.<model>, export (archs, calibration_images, latency_images,
batch_size, threads, collapse_points), evaluate.threshold, seed.
Writes data/exports/<model>/ (<format>.tflite, labels.json) and metrics/export/<model>.json.
"""

import sys

from fruitveg.core.errors import PipelineError, run_stage
from fruitveg.core.native_logs import quiet_tensorflow

USAGE = "usage: python stages/export.py <model>   (a key of params.yaml models:)"


def main() -> None:
    if len(sys.argv) != 2:
        raise PipelineError(USAGE)
    quiet_tensorflow()  # before Keras loads TensorFlow
    from fruitveg.core import params
    from fruitveg.export.settings import export_settings

    settings = export_settings(params.load(), sys.argv[1])  # every setting checked, once
    if not settings.enabled:
        from fruitveg.export.skip import skip  # without the heavy imports of a real export

        print(f"export@{settings.name}: skipped ({skip(settings)['skipped']})")
        return
    from fruitveg.export.run import export

    result = export(settings)
    print(f"export@{settings.name}: {result['n_test']} test images, {result['threads']} threads")
    for r in result["formats"]:
        if r["status"] == "failed":
            print(f"  {r['format']}: failed ({r['reason']})")
            continue
        print(
            f"  {r['format']}: {r['size_bytes'] / 1e6:.2f} MB ({r['size_ratio']:.2f}x), "
            f"accuracy {100 * r['accuracy']:.2f} % ({r['change_points']:+.2f} points, "
            f"agreement {100 * r['agreement']:.1f} %), latency {r['latency_ms']:.2f} ms, "
            f"{r['images_per_s']:.0f} images/s{'' if r['status'] == 'ok' else ' [collapsed]'}"
        )


if __name__ == "__main__":
    run_stage(main)

"""python -m fruitveg.predict PATH... --model cnn [--format keras|float16|int8|...] [--top 3]
[--json]

Prints, per readable image, its class, that class' probability and the top classes; with
--json one object per line instead. Unreadable files are reported one per line with the
reason (stderr as text; with --json a line with "error" on stdout). The exit code is 1 only
when no file could be read (or the model can't be loaded), 2 for a bad command line.
"""

import json
import os
import sys

from fruitveg.core.errors import PipelineError, run_stage


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras loads TensorFlow
    from fruitveg.core import params
    from fruitveg.predict.settings import predict_settings

    settings = predict_settings(sys.argv[1:] if argv is None else argv, params.load())
    from fruitveg.predict.classifier import load
    from fruitveg.predict.sources import files, read

    classifier = load(settings)
    tried = [read(path, classifier.size) for path in files(settings.paths)]
    good = [r for r in tried if r.pixels is not None]
    for r in tried:
        if r.error is None:
            continue
        if settings.json:
            print(json.dumps({"path": str(r.path), "error": r.error}))
        else:
            print(f"{r.path}: unreadable: {r.error}", file=sys.stderr)
    if not good:
        raise PipelineError(f"no file could be read ({len(tried)} tried)")
    import numpy as np

    pred, probs = classifier.classify(np.stack([r.pixels for r in good]))
    labels = classifier.labels
    for r, p, row in zip(good, pred, probs, strict=True):
        order = np.argsort(-row, kind="stable")[: settings.top]
        top = [{"class": labels[i], "probability": float(row[i])} for i in order]
        if settings.json:
            line = {"path": str(r.path), "class": labels[p], "probability": float(row[p])}
            print(json.dumps(line | {"top": top}))
        else:
            listed = ", ".join(f"{t['class']} {t['probability']:.4f}" for t in top)
            print(f"{r.path}: {labels[p]} ({row[p]:.4f}); top {len(top)}: {listed}")


if __name__ == "__main__":
    run_stage(main)

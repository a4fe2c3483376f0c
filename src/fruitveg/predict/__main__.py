"""python -m fruitveg.predict PATH... --model cnn [--format keras|float16|int8|...] [--top 3]
[--json]

Prints, per readable image, its class, that class' probability and the top classes; with
--json one object per line instead. Unreadable files are reported one per line with the
reason (stderr as text; with --json a line with "error" on stdout), and so are images the
model gives no finite probabilities for. Paths are printed as paths.shown writes them
(bytes that are not UTF-8 as \\xNN), so any name prints under a strict stdout. The exit
code is 1 only when no image could be classified (or the model can't be loaded), 2 for a
bad command line.
"""

import json
import os
import sys

from fruitveg.core.errors import PipelineError, run_stage
from fruitveg.core.native_logs import quiet_tensorflow
from fruitveg.core.paths import shown


def _failed(path: str, what: str, error: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"path": path, "error": error}, allow_nan=False))
    else:
        print(f"{path}: {what}: {error}", file=sys.stderr)


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
        if r.error is not None:
            _failed(shown(r.path), "unreadable", r.error, settings.json)
    if not good:
        raise PipelineError(f"no file could be read ({len(tried)} tried)")
    import numpy as np

    pred, probs = classifier.classify(np.stack([r.pixels for r in good]))
    labels, finite = classifier.labels, np.isfinite(probs).all(axis=1)
    for r, p, row, ok in zip(good, pred, probs, finite, strict=True):
        if not ok:  # NaN weights (a diverged training), or logits beyond float32
            why = "the model gave NaN probabilities"
            _failed(shown(r.path), "no prediction", why, settings.json)
            continue
        order = np.argsort(-row, kind="stable")[: settings.top]
        top = [{"class": labels[i], "probability": float(row[i])} for i in order]
        if settings.json:
            line = {"path": shown(r.path), "class": labels[p], "probability": float(row[p])}
            print(json.dumps(line | {"top": top}, allow_nan=False))
        else:
            listed = ", ".join(f"{t['class']} {t['probability']:.4f}" for t in top)
            print(f"{shown(r.path)}: {labels[p]} ({row[p]:.4f}); top {len(top)}: {listed}")
    if not finite.any():
        raise PipelineError(
            f"model {settings.model.name} gave no finite probabilities ({classifier.source}); "
            "its weights may hold NaN: train it again with a lower lr"
        )


if __name__ == "__main__":
    quiet_tensorflow()
    run_stage(main)

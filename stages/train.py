"""train@<model>: train one model of params.yaml `models:` on its layout.

Usage: python stages/train.py <model>
"""

import os
import sys

from fruitveg.core.errors import PipelineError, run_stage

USAGE = "usage: python stages/train.py <model>   (a key of params.yaml models:)"


def main() -> None:
    if len(sys.argv) != 2:
        raise PipelineError(USAGE)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ info lines
    from fruitveg.core import params
    from fruitveg.training import loop as training  # TensorFlow loads here, after the check

    summary = training.train(sys.argv[1], params.load())
    print(
        f"{summary['model']}: best epoch {summary['best_epoch']}/{summary['epochs']} "
        f"val_accuracy {summary['best_val_accuracy']:.4f}, {summary['params']:,} parameters, "
        f"{summary['train_seconds']:.1f}s of training"
    )


if __name__ == "__main__":
    run_stage(main)

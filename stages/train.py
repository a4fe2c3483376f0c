"""train@<model>: train one model of params.yaml `models:` on its layout.

Usage: python stages/train.py <model>
"""

import sys

from fruitveg.core.errors import PipelineError, run_stage
from fruitveg.core.native_logs import quiet_tensorflow

USAGE = "usage: python stages/train.py <model>   (a key of params.yaml models:)"


def main() -> None:
    if len(sys.argv) != 2:
        raise PipelineError(USAGE)
    quiet_tensorflow()  # before Keras loads TensorFlow
    from fruitveg.core import params  # TensorFlow loads below, after the usage check
    from fruitveg.training.loop import train
    from fruitveg.training.settings import train_settings

    settings = train_settings(params.load(), sys.argv[1])  # every setting checked, once
    summary = train(settings)
    print(
        f"{summary['model']}: best epoch {summary['best_epoch']}/{summary['epochs']} "
        f"val_accuracy {summary['best_val_accuracy']:.4f}, {summary['params']:,} parameters, "
        f"{summary['train_seconds']:.1f}s of training"
    )


if __name__ == "__main__":
    run_stage(main)

"""class_weight: balanced weighs every label alike in the loss; off by default."""

from pathlib import Path

import pytest

from fruitveg.core import history
from fruitveg.training.inputs import balanced_class_weight
from fruitveg.training.loop import train
from fruitveg.training.settings import train_settings

from .helpers import make_params, write_layout


def test_balanced_weights() -> None:
    weights = balanced_class_weight([0, 0, 0, 1, 2, 2], 4)
    assert weights == pytest.approx({0: 6 / 12, 1: 6 / 4, 2: 6 / 8, 3: 0.0})
    # every label present weighs the same in all: n / labels
    assert [weights[i] * n for i, n in enumerate((3, 1, 2))] == pytest.approx([1.5] * 3)


def test_balanced_weights_change_the_training_loss(repo: Path) -> None:
    """Imbalanced binary layout (6 fruit, 2 vegetable): the same seed and data, so only the
    weights can change the first epoch's loss."""
    layout = write_layout(repo, "binary", ("fruit", "vegetable"), {"train": 6, "validation": 2})
    for extra in sorted((layout / "train" / "vegetable").iterdir())[2:]:
        extra.unlink()
    losses = {}
    for weighting in ("none", "balanced"):
        params = make_params(binary_cnn={"class_weight": weighting, "batch_size": 8})
        train(train_settings(params, "binary_cnn"), verbose=False)
        (epoch,) = history.read(repo / "plots/history/binary_cnn.csv")
        losses[weighting] = epoch.loss
    assert losses["none"] != pytest.approx(losses["balanced"], rel=1e-4)

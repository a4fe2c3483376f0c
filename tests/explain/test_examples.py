"""Which test images a Grad-CAM grid shows."""

import numpy as np

from fruitveg.explain.examples import choose, confused_pairs


def probs_for(pred: list[int], conf: list[float], classes: int = 4) -> np.ndarray:
    """One row per image: `conf` on the predicted class, the rest spread evenly."""
    rows = np.zeros((len(pred), classes))
    for i, (p, c) in enumerate(zip(pred, conf, strict=True)):
        rows[i] = (1 - c) / (classes - 1)
        rows[i, p] = c
    return rows


# image:   0    1    2    3    4    5    6    7    8    9
Y = [0, 0, 1, 1, 2, 2, 3, 3, 2, 3]
PRED = [0, 0, 1, 2, 3, 3, 2, 2, 3, 3]
CONF = [0.9, 0.95, 0.8, 0.7, 0.6, 0.65, 0.5, 0.55, 0.4, 0.99]


def test_confused_pairs_count_both_directions():
    # 2<->3: images 4, 5, 6, 7, 8 (five mistakes); 1<->2: image 3 (one)
    assert confused_pairs(np.array(Y), np.array(PRED)) == [(2, 3), (1, 2)]


def test_right_ones_are_the_most_confident_one_per_class_then_the_confused_pairs():
    chosen = choose(np.array(Y), probs_for(PRED, CONF), right=3, wrong=4)
    right = [e for e in chosen if e.right]
    wrong = [e for e in chosen if not e.right]
    # image 9 (class 3, 0.99), image 1 (class 0, 0.95; image 0 is the same class), image 2
    assert [e.index for e in right] == [9, 1, 2]
    # pair 2<->3 first, two of its mistakes by confidence (5: 0.65, 4: 0.6), then pair 1<->2
    # (3), then what is left of 2<->3 in order of confidence (7: 0.55)
    assert [e.index for e in wrong] == [5, 4, 3, 7]
    assert all(e.actual == Y[e.index] and e.predicted == PRED[e.index] for e in chosen)
    assert chosen[0].confidence == 0.99


def test_fewer_images_than_asked_and_none_asked():
    chosen = choose(np.array(Y), probs_for(PRED, CONF), right=10, wrong=0)
    assert [e.index for e in chosen] == [9, 1, 2]  # one per class that has a right answer
    assert choose(np.array(Y), probs_for(PRED, CONF), right=0, wrong=0) == []
    assert len(choose(np.array(Y), probs_for(PRED, CONF), right=0, wrong=99)) == 6

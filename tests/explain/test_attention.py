"""The attention block's numbers: the weights read out of a squeeze-and-excitation block
match its definition, and the feature-scale statistics are exact and batch-independent."""

import numpy as np
import pytest

from fruitveg.explain.attention import Scale, channel_gate, weight_summary
from fruitveg.explain.gradcam import ExplainError
from fruitveg.explain.probe import attention_numbers, probe_model, run_pass
from fruitveg.models.build import ModelSpec, build_model

SIZE = 24  # the smallest input both CNNs take comfortably ('valid' needs 22)


@pytest.fixture(scope="module")
def models():
    import keras

    keras.utils.set_random_seed(1)
    se = build_model(ModelSpec("cnn", SIZE, n_labels=3, attention="se"))
    plain = build_model(ModelSpec("cnn", SIZE, n_labels=3))
    images = np.random.default_rng(2).uniform(0, 255, (5, SIZE, SIZE, 3)).astype("float32")
    return se, plain, images


def se_weights_by_hand(model, before: np.ndarray) -> np.ndarray:
    """sigmoid(W2 relu(W1 mean(before) + b1) + b2): the SE block's definition."""
    w1, b1 = model.get_layer("attention_se_reduce").get_weights()
    w2, b2 = model.get_layer("attention_se_expand").get_weights()
    squeezed = before.mean(axis=(1, 2))
    return 1 / (1 + np.exp(-(np.maximum(squeezed @ w1 + b1, 0) @ w2 + b2)))


def test_channel_weights_are_the_se_blocks(models):
    se, plain, images = models
    found = [np.asarray(t) for t in probe_model(se, gate=True)(images)]
    outputs, head, before, weights, after = found
    assert before.shape == (5, 3, 3, 128) and weights.shape == (5, 1, 1, 128)
    np.testing.assert_allclose(weights[:, 0, 0], se_weights_by_hand(se, before), rtol=1e-5)
    np.testing.assert_allclose(after, before * weights, rtol=1e-6)
    np.testing.assert_allclose(outputs, se(images), rtol=1e-6)
    np.testing.assert_array_equal(head, after)  # SE's output is what the head reads

    # One pass in uneven batches records the same, and beside the plain model's map.
    seen, plain_seen = run_pass(se, images, gate=True, batch=2), run_pass(plain, images, False)
    np.testing.assert_allclose(seen.outputs, outputs, rtol=1e-6)
    m = attention_numbers(seen, plain_seen)
    np.testing.assert_allclose(m.weights, weights[:, 0, 0], rtol=1e-6)
    assert ((m.weights > 0) & (m.weights < 1)).all()
    assert m.shapes == {"before": [3, 3, 128], "paired": [1, 1, 128]}
    assert m.after.summary()["rms"] == pytest.approx(np.sqrt(np.mean((before * weights) ** 2)))
    plain_map = np.asarray(probe_model(plain, gate=False)(images)[1])
    assert m.paired.summary()["rms"] == pytest.approx(np.sqrt(np.mean(plain_map**2)), rel=1e-6)
    assert attention_numbers(seen, None).paired is None
    with pytest.raises(ValueError, match="must record its block"):
        attention_numbers(plain_seen, seen)


def test_a_model_without_channel_attention_is_named(models):
    _, plain, _ = models
    with pytest.raises(ExplainError, match="no layer scales a feature map by per-channel"):
        channel_gate(plain)


def test_scale_statistics_are_exact_and_do_not_depend_on_batches():
    rng = np.random.default_rng(0)
    maps = np.maximum(rng.normal(0, 1, (6, 4, 4, 3)), 0)  # about half zeros, as after a relu
    maps[0, 0, 0, 0] = -2.0  # one negative value
    whole, batched = Scale(), Scale()
    whole.add(maps)
    for i in range(0, 6, 4):  # uneven batches: 4 then 2
        batched.add(maps[i : i + 4])
    s = whole.summary()
    assert s == pytest.approx(batched.summary())
    assert s["rms"] == pytest.approx(np.sqrt(np.mean(maps**2)))
    assert s["mean"] == pytest.approx(maps.mean())
    assert s["max_abs"] == pytest.approx(np.abs(maps).max())
    assert s["zero_fraction"] == pytest.approx((maps == 0).mean())
    assert s["negative_fraction"] == pytest.approx(1 / maps.size)
    per_image = np.sqrt((maps**2).mean(axis=(1, 2, 3)))
    assert s["image_rms_median"] == pytest.approx(np.median(per_image))
    assert whole.log_counts.sum() == (maps != 0).sum()  # every non-zero value is binned


def test_weight_summary_tells_a_fixed_rescaling_from_an_image_dependent_one():
    fixed = np.tile(np.linspace(0.05, 0.95, 8), (10, 1))  # every image: the same weights
    s = weight_summary(fixed)
    assert s["image_std_mean"] == pytest.approx(0)
    assert s["channel_mean_std"] == pytest.approx(np.linspace(0.05, 0.95, 8).std())
    assert s["below_0.1"] == pytest.approx(1 / 8) and s["above_0.9"] == pytest.approx(1 / 8)
    assert (s["min"], s["p50"], s["max"]) == pytest.approx((0.05, 0.5, 0.95))
    varying = np.random.default_rng(1).uniform(0, 1, (10, 8))
    assert weight_summary(varying)["image_std_mean"] > 0.1

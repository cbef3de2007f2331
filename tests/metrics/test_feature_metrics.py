"""FID, IS, KID and precision/recall on constructed feature sets with known values, and the metric names."""
import numpy as np
import pytest

from gen_jax.metrics import feature_metrics as fm
from gen_jax.metrics import sample_quality as sq


def confident_logits(labels, num_classes, scale=50.0):
    return scale * np.eye(num_classes)[labels]


def test_inception_score_of_a_uniform_confident_classifier_is_the_number_of_classes():
    labels = np.arange(1000) % 10            # every split of 100 holds each class 10 times
    out = fm.inception_score(confident_logits(labels, 10), splits=10)
    assert out["is"] == pytest.approx(10.0, rel=1e-9) and out["is_std"] == pytest.approx(0.0, abs=1e-9)
    labels = np.arange(1008 * 10) % 1008     # the 1008 classes of the FID Inception
    assert fm.inception_score(confident_logits(labels, 1008), splits=10)["is"] == pytest.approx(1008, rel=1e-9)


def test_inception_score_of_constant_predictions_is_one():
    logits = np.tile(np.random.default_rng(0).normal(size=(1, 7)), (50, 1))
    out = fm.inception_score(logits, splits=10)
    assert out["is"] == pytest.approx(1.0, abs=1e-12) and out["is_std"] == pytest.approx(0.0, abs=1e-12)


def test_inception_score_hand_value_and_splits():
    # p(y|x) = (0.9, 0.1) and (0.1, 0.9): p(y) = (0.5, 0.5), KL = 0.9 ln 1.8 + 0.1 ln 0.2 for both
    logits = np.log([[0.9, 0.1], [0.1, 0.9]])
    expected = np.exp(0.9 * np.log(1.8) + 0.1 * np.log(0.2))
    assert fm.inception_score(logits, splits=1)["is"] == pytest.approx(expected, rel=1e-12)
    # two splits of one confident sample each: each part has a one-point marginal, IS = 1 per part
    assert fm.inception_score(confident_logits([0, 1], 2), splits=2)["is"] == pytest.approx(1.0, abs=1e-9)
    # the parts are consecutive: [a a b b] with 2 splits -> 1; interleaved [a b a b] -> 2
    assert fm.inception_score(confident_logits([0, 0, 1, 1], 2), splits=2)["is"] == pytest.approx(1.0, abs=1e-9)
    assert fm.inception_score(confident_logits([0, 1, 0, 1], 2), splits=2)["is"] == pytest.approx(2.0, rel=1e-9)
    with pytest.raises(ValueError, match="at least splits=10"):
        fm.inception_score(np.zeros((5, 3)), splits=10)


def test_knn_radii_hand_values():
    x = np.arange(10.0)[:, None]
    # 3rd nearest other point: 3 at the ends (1, 2, 3 away), 2 inside (1, 1, 2 away)
    np.testing.assert_allclose(fm.knn_radii(x, k=3), [3, 2, 2, 2, 2, 2, 2, 2, 2, 3])
    np.testing.assert_allclose(fm.knn_radii(x, k=1), np.ones(10))
    with pytest.raises(ValueError, match="k < N"):
        fm.knn_radii(x, k=10)


def test_precision_recall_known_values():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 16))
    assert fm.precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    assert fm.precision_recall(real, real + 1000.0) == {"precision": 0.0, "recall": 0.0}
    # 1-D: real 0..9 (balls cover [-3, 12]); fake 0.5..4.5 (balls cover [-2.5, 7.5]) and 100..104 (far away):
    # precision = 5/10 (the near half), recall = 8/10 (reals 0..7)
    real = np.arange(10.0)[:, None]
    fake = np.concatenate([np.arange(5) + 0.5, np.arange(100.0, 105.0)])[:, None]
    out = fm.precision_recall(real, fake, k=3)
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(0.8)
    # blocks give the same answer as one block
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(250, 4)) + 0.5
    whole = fm._covered(b, a, fm.knn_radii(a, 3, block=10_000), block=10_000)
    np.testing.assert_array_equal(fm._covered(b, a, fm.knn_radii(a, 3, block=7), block=13), whole)


class FlatFeatures:
    """A stand-in extractor: flattened pixels (non-standard) or, with standard=True, also confident logits."""

    def __init__(self, standard=False):
        self.standard = standard

    def features(self, images):
        images = np.asarray(images, np.float64)
        return images.reshape(len(images), -1)

    def features_and_logits(self, images):
        f = self.features(images)
        return f, confident_logits(np.arange(len(f)) % 4, 4)


def gaussian_images(rng, n, mean, std):
    return (mean + std * rng.normal(size=(n, 2, 2, 1))).astype(np.float32)


def test_sample_metrics_names_and_gaussian_fid():
    rng = np.random.default_rng(1)
    ref, smp = gaussian_images(rng, 4000, 0.0, 1.0), gaussian_images(rng, 4000, 0.5, 2.0)
    # closed form for N(0, I_4) vs N(0.5 1, 4 I_4): 4 * 0.25 + 4 * (1 - 2)^2 = 5
    other = fm.sample_metrics("pixels", FlatFeatures(), ref, smp, kid_subsets=5, kid_subset_size=500,
                              with_precision_recall=True)
    assert set(other) == {"frechet_pixels", "kid_pixels", "kid_std_pixels", "precision_pixels", "recall_pixels"}
    assert other["frechet_pixels"] == pytest.approx(5.0, rel=0.05)
    assert other["frechet_pixels"] == pytest.approx(sq.frechet_distance_from_features(
        ref.reshape(4000, -1), smp.reshape(4000, -1)), rel=1e-12)
    std = fm.sample_metrics("inception", FlatFeatures(standard=True), ref, smp, kid_subsets=5,
                            kid_subset_size=500)
    assert set(std) == {"fid", "kid", "kid_std", "is", "is_std"}
    assert std["fid"] == other["frechet_pixels"] and std["kid"] == other["kid_pixels"]
    assert std["is"] == pytest.approx(4.0, rel=1e-9)     # 4 classes, uniform and confident

"""Frechet distance and KID: closed forms for Gaussians, a float64 SciPy reference, unbiasedness."""
import numpy as np
import pytest
from scipy import linalg

from gen_jax.metrics import sample_quality as sq


def random_cov(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def scipy_frechet(mu1, c1, mu2, c2):
    covmean = linalg.sqrtm(c1 @ c2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * np.real(covmean)))


def test_frechet_closed_forms():
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2
    assert sq.frechet_distance([1.0], [[4.0]], [-0.5], [[0.25]]) == pytest.approx(1.5 ** 2 + 1.5 ** 2)
    # commuting (diagonal) covariances: sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    assert sq.frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b)) == pytest.approx(
        3.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    rng = np.random.default_rng(0)
    c = random_cov(rng, 5)
    assert sq.frechet_distance(np.ones(5), c, np.ones(5), c) == pytest.approx(0.0, abs=1e-9)


def test_frechet_matches_scipy_float64_reference():
    rng = np.random.default_rng(1)
    for d in (2, 16, 64):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        c1, c2 = random_cov(rng, d), random_cov(rng, d)
        ours = sq.frechet_distance(mu1, c1, mu2, c2)
        assert ours == pytest.approx(scipy_frechet(mu1, c1, mu2, c2), rel=1e-8)
        assert ours == pytest.approx(sq.frechet_distance(mu2, c2, mu1, c1), rel=1e-8)  # symmetric


def test_frechet_of_gaussian_fits_converges_to_the_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.0, 1.0])
    c1, c2 = random_cov(rng, 3), random_cov(rng, 3)
    x = rng.multivariate_normal(mu1, c1, 40000)
    y = rng.multivariate_normal(mu2, c2, 40000)
    assert sq.frechet_distance_from_features(x, y) == pytest.approx(scipy_frechet(mu1, c1, mu2, c2), rel=0.03)


def test_mmd_matches_a_direct_double_sum():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((9, 4)) + 0.3
    k = lambda a, b: (a @ b / 4 + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
    assert sq.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def _cubic_kernel_mean_1d(a, s, b, t):
    """E (x y + 1)^3 for independent x ~ N(a, s^2), y ~ N(b, t^2) (1-D, so gamma = 1)."""
    m1x, m2x, m3x = a, a * a + s * s, a ** 3 + 3 * a * s * s
    m1y, m2y, m3y = b, b * b + t * t, b ** 3 + 3 * b * t * t
    return m3x * m3y + 3 * m2x * m2y + 3 * m1x * m1y + 1


def test_mmd_estimator_is_unbiased_for_the_gaussian_closed_form():
    (a, s), (b, t) = (0.0, 1.0), (0.5, 0.8)
    exact = (_cubic_kernel_mean_1d(a, s, a, s) + _cubic_kernel_mean_1d(b, t, b, t)
             - 2 * _cubic_kernel_mean_1d(a, s, b, t))
    rng = np.random.default_rng(4)
    vals = np.array([sq.mmd2_unbiased(a + s * rng.standard_normal((40, 1)), b + t * rng.standard_normal((40, 1)))
                     for _ in range(2000)])
    se = vals.std() / np.sqrt(len(vals))
    assert abs(vals.mean() - exact) < 4 * se
    # same distribution: zero in expectation (individual values can be negative: unbiased, not clipped)
    same = np.array([sq.mmd2_unbiased(rng.standard_normal((40, 1)), rng.standard_normal((40, 1)))
                     for _ in range(2000)])
    assert abs(same.mean()) < 4 * same.std() / np.sqrt(len(same)) and same.min() < 0


def test_evaluate_samples_with_a_pluggable_extractor():
    rng = np.random.default_rng(5)
    real = rng.uniform(size=(300, 4, 4, 1))
    extractor = lambda im: im.reshape(len(im), -1)[:, :3]
    same = sq.evaluate_samples(extractor, real, real, num_subsets=5, subset_size=100)
    assert same["frechet_distance"] == pytest.approx(0.0, abs=1e-9)
    shifted = sq.evaluate_samples(extractor, real, np.clip(real + 0.3, 0, 1.5), num_subsets=5, subset_size=100)
    assert shifted["frechet_distance"] > 0.2 and shifted["kid"] > 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="NaN"):
        sq.frechet_distance_from_features(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\[N, F\]"):
        sq.gaussian_fit(np.zeros(5))
    with pytest.raises(ValueError, match="feature sizes differ"):
        sq.mmd2_unbiased(np.zeros((3, 2)), np.zeros((3, 4)))


def test_class_coverage_hand_values():
    from gen_jax.metrics.digits_classifier import class_coverage

    out = class_coverage(np.array([0, 0, 1, 3]), num_classes=4)
    assert out["shares"] == [0.5, 0.25, 0.0, 0.25]
    assert out["classes_covered"] == 3 and out["max_share"] == 0.5
    assert out["kl_from_uniform"] == pytest.approx(0.5 * np.log(2) + 2 * 0.25 * np.log(1.0))
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 4\)"):
        class_coverage(np.array([0, 4]), num_classes=4)


def test_digits_classifier_is_a_meaningful_feature_space():
    """The library-trained classifier is accurate, and its features put real digits near the test split and
    noise far from it (the Frechet distance ranks them)."""
    from gen_jax.data import load_arrays
    from gen_jax.metrics.digits_classifier import DigitsClassifier

    clf = DigitsClassifier.train(seed=0, steps=120)
    assert clf.accuracy_on_test() > 0.9
    test = load_arrays("digits", "test")["x"] / 16.0
    train = load_arrays("digits", "train")["x"] / 16.0
    noise = np.random.default_rng(0).uniform(size=(500, 8, 8, 1))
    fd_real = sq.frechet_distance_from_features(clf.features(test), clf.features(train))
    fd_noise = sq.frechet_distance_from_features(clf.features(test), clf.features(noise))
    assert fd_real < 0.05 * fd_noise
    with pytest.raises(ValueError, match=r"\[N, 8, 8, 1\]"):
        clf.features(np.zeros((2, 28, 28, 1)))

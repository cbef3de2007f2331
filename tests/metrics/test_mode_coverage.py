"""Mode coverage: hand-computed histograms and the chi-square law of the true mixture."""
import math

import jax
import numpy as np
import pytest

from gen_jax.metrics.mode_coverage import mode_coverage, mode_coverage_arrays

RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], -1)


def test_perfect_uniform_samples_capture_all_modes_with_zero_kl():
    samples = np.repeat(RING, 10, axis=0)
    out = mode_coverage(samples, RING, 0.01)
    assert out == {"modes": 8, "high_quality": 1.0, "kl": pytest.approx(0.0, abs=1e-6)}


def test_hand_computed_histogram():
    # 4 modes on a line; 2 samples on mode 0, 1 on mode 1, 1 on mode 2, none on mode 3, 4 far away.
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    sigma = 0.1
    samples = np.array([[0.0, 0.05], [0.02, 0.0], [1.0, 0.29], [2.1, 0.0],   # all within 3 sigma
                        [0.0, 0.31], [1.5, 0.0], [3.0, 0.5], [10.0, 10.0]])   # all beyond 3 sigma
    out = mode_coverage(samples, centers, sigma)
    p = np.array([0.5, 0.25, 0.25])
    expected_kl = float(np.sum(p * np.log(p * 4)))  # = 0.5 log 2 + 0.5 log 1 = 0.3466
    assert out["modes"] == 3
    assert out["high_quality"] == pytest.approx(0.5)
    assert out["kl"] == pytest.approx(expected_kl, rel=1e-5)
    assert expected_kl == pytest.approx(0.5 * math.log(2.0))


def test_collapse_and_empty_conventions():
    one_mode = np.repeat(RING[:1], 50, axis=0)
    out = mode_coverage(one_mode, RING, 0.01)
    assert out["modes"] == 1 and out["kl"] == pytest.approx(math.log(8), rel=1e-6)
    far = np.full((20, 2), 5.0)
    out = mode_coverage(far, RING, 0.01)
    assert out == {"modes": 0, "high_quality": 0.0, "kl": pytest.approx(math.log(8), rel=1e-6)}


def test_true_mixture_matches_chi_square_law():
    # For a 2-D isotropic Gaussian, ||x - mu||^2 / sigma^2 ~ chi^2_2, so P(Mahalanobis < 3) = 1 - exp(-9/2).
    rng = np.random.default_rng(0)
    n = 20000
    idx = rng.integers(0, 8, size=n)
    samples = RING[idx] + 0.01 * rng.standard_normal((n, 2))
    out = mode_coverage(samples, RING, 0.01)
    assert out["modes"] == 8
    expected = 1 - math.exp(-4.5)
    assert abs(out["high_quality"] - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    # The KL of a multinomial histogram from uniform is about (M - 1) / (2 n) in expectation.
    assert out["kl"] < 10 * 7 / (2 * n)


def test_vmappable_over_seeds():
    samples = np.stack([np.repeat(RING, 5, 0), np.repeat(RING[:2], 20, 0)])
    out = jax.vmap(lambda s: mode_coverage_arrays(s, RING, 0.01))(samples)
    np.testing.assert_array_equal(out["modes"], [8, 2])
    np.testing.assert_allclose(out["kl"], [0.0, math.log(4)], atol=1e-6)


@pytest.mark.parametrize("samples, centers, sigma, match", [
    (np.zeros((3,)), RING, 0.1, "samples must be"),
    (np.zeros((3, 3)), RING, 0.1, "dimension"),
    (np.full((3, 2), np.nan), RING, 0.1, "NaN"),
    (np.zeros((3, 2)), RING, -1.0, "sigma must be positive"),
])
def test_bad_input_is_named(samples, centers, sigma, match):
    with pytest.raises(ValueError, match=match):
        mode_coverage(samples, centers, sigma)

"""Energy distance and MMD against float64 NumPy/SciPy references, and their defining properties."""
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

from gen_jax.metrics.two_sample import energy_distance, mmd_rbf


def _np_energy(x, y):
    return 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()


def _np_mmd(x, y, h):
    k = lambda a, b: np.exp(-cdist(a, b, "sqeuclidean") / (2 * h * h))  # noqa: E731
    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * k(x, y).mean())


def test_energy_distance_matches_float64_references():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 2)), rng.normal(0.3, 1.2, size=(200, 2))
    np.testing.assert_allclose(energy_distance(x, y), _np_energy(x, y), rtol=1e-4)
    a, b = rng.normal(size=400), rng.exponential(size=300)
    np.testing.assert_allclose(energy_distance(a, b), stats.energy_distance(a, b) ** 2, rtol=1e-4)


def test_mmd_matches_float64_reference_and_sums_bandwidths():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(250, 3)), rng.standard_t(4, size=(150, 3))
    for h in [0.1, 1.0, 3.0]:
        np.testing.assert_allclose(mmd_rbf(x, y, h), _np_mmd(x, y, h), rtol=1e-3, atol=1e-6)
    multi = mmd_rbf(x, y, [0.1, 1.0, 3.0])
    np.testing.assert_allclose(multi, np.mean([_np_mmd(x, y, h) for h in [0.1, 1.0, 3.0]]), rtol=1e-3, atol=1e-6)


def test_distances_separate_equal_from_different_distributions():
    rng = np.random.default_rng(2)
    ring = lambda n: np.stack([np.cos(t := rng.uniform(0, 2 * np.pi, n)), np.sin(t)], 1)  # noqa: E731
    same = [energy_distance(ring(1000), ring(1000)) for _ in range(3)]
    diff = energy_distance(ring(1000), 0.8 * ring(1000))
    assert max(same) < 0.2 * diff
    # unbiased MMD^2 is centred at zero under P = Q; the gap is large under P != Q
    assert abs(mmd_rbf(ring(1000), ring(1000), 0.2)) < 0.1 * mmd_rbf(ring(1000), 0.8 * ring(1000), 0.2)
    # energy distance scales linearly with the data
    x, y = ring(500), rng.normal(size=(500, 2))
    np.testing.assert_allclose(energy_distance(3 * x, 3 * y), 3 * energy_distance(x, y), rtol=1e-4)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="dimensions differ"):
        energy_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mmd_rbf(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="positive"):
        mmd_rbf(np.zeros((5, 2)), np.ones((5, 2)), 0.0)

"""toy2d: the samplers are statistically right, the stored splits are what the samplers draw."""
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import toy2d


@pytest.mark.parametrize("name,sampler,m", [("ring8", toy2d.sample_ring8, 8), ("grid25", toy2d.sample_grid25, 25)])
def test_mixture_means_sigma_and_weights(name, sampler, m):
    centers, sigma = toy2d.mode_centers(name)
    assert centers.shape == (m, 2)
    n = 200_000
    x, label = sampler(np.random.default_rng(0), n)
    assert x.shape == (n, 2) and x.dtype == np.float32 and label.dtype == np.int32
    counts = np.bincount(label, minlength=m)
    # equal weights: each count ~ Binomial(n, 1/m); 5 standard deviations
    assert np.all(np.abs(counts - n / m) < 5 * np.sqrt(n / m))
    for k in range(m):
        xk = x[label == k].astype(np.float64)
        se = sigma / np.sqrt(len(xk))
        np.testing.assert_array_less(np.abs(xk.mean(0) - centers[k]), 5 * se)
        # per-coordinate std within 5 standard errors of sigma (se of std ~ sigma / sqrt(2 n))
        np.testing.assert_array_less(np.abs(xk.std(0, ddof=1) - sigma), 5 * sigma / np.sqrt(2 * len(xk)))
    # every point is nearest to its own mode
    nearest = np.argmin(((x[:, None, :] - centers[None].astype(np.float32)) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == label) == 1.0


def test_mode_centers_values():
    ring, s = toy2d.mode_centers("ring8")
    assert s == 0.01
    np.testing.assert_allclose(ring[2], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0)
    grid, s = toy2d.mode_centers("toy2d/grid25")
    assert s == 0.05
    assert set(map(tuple, grid)) == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    np.testing.assert_array_equal(grid[5 * 1 + 3], [-2.0, 2.0])
    with pytest.raises(ValueError, match="not a Gaussian mixture"):
        toy2d.mode_centers("swiss_roll")


def test_two_moons_geometry():
    x, label = toy2d.sample_two_moons(np.random.default_rng(1), 100_000)
    assert set(np.unique(label)) == {0, 1}
    # undo the documented affine map and check each moon's points lie on its unit half circle
    p = x.astype(np.float64) / 2.0 + np.array([0.5, 0.25])
    r_upper = np.linalg.norm(p[label == 0], axis=1)
    r_lower = np.linalg.norm(p[label == 1] - np.array([1.0, 0.5]), axis=1)
    for r in (r_upper, r_lower):
        assert abs(np.median(r) - 1.0) < 0.01
    assert np.mean(p[label == 0, 1]) > 0.5 > np.mean(p[label == 1, 1])
    assert abs(x[:, 0].mean()) < 0.02 and abs(x[:, 1].mean()) < 0.02


def test_swiss_roll_geometry():
    x, label = toy2d.sample_swiss_roll(np.random.default_rng(2), 50_000)
    assert np.all(label == -1)
    r = np.linalg.norm(x.astype(np.float64), axis=1) * 5.0  # = t up to noise
    assert np.quantile(r, 0.001) > 1.5 * np.pi - 1.5 and np.quantile(r, 0.999) < 4.5 * np.pi + 1.5
    assert np.abs(x).max() < 3.5


def test_samplers_are_deterministic_given_the_generator():
    for name in toy2d.CONFIG_NAMES:
        a = toy2d.sample(name, np.random.default_rng(7), 100)
        b = toy2d.sample("toy2d/" + name, 7, 100)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("name", toy2d.CONFIG_NAMES)
def test_stored_splits_are_the_documented_draws(data_dir, name, no_network):
    info = data.dataset_info(name, data_dir=data_dir)
    assert info.name == f"toy2d/{name}" and info.shape == (2,) and info.num_levels is None
    assert info.splits == {"train": 20_000, "test": 5_000}
    assert info.num_classes == toy2d.NUM_CLASSES[name]
    for split, n in info.splits.items():
        stored = data.load_arrays(f"toy2d/{name}", split, data_dir=data_dir)
        x, label = toy2d.sample(name, toy2d.split_rng(name, split), n)
        np.testing.assert_array_equal(stored["x"], x)
        if info.num_classes is None:  # swiss_roll: no modes, no 'label' feature
            assert set(stored) == {"x"} and np.all(label == -1)
        else:
            np.testing.assert_array_equal(stored["label"], label)
    assert not no_network

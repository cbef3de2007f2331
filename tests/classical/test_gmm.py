"""Tests of gen_jax/classical/gmm.py: EM against scikit-learn, monotonicity, data parallelism, degenerate input.

Oracle comparisons run in float64 (`jax.enable_x64(True)` context) so that a 1e-4 relative tolerance is a
statement about the algorithm, not about float32 rounding.
"""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from gen_jax.classical import gmm as G


def _blobs(seed=0, n=(120, 90, 90)):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n[0], 3)) + [4.0, 0.0, 0.0]
    b = rng.normal(size=(n[1], 3)) * [1.0, 2.0, 0.5] - [0.0, 3.0, 0.0]
    c = rng.normal(size=(n[2], 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]])
    return np.concatenate([a, b, c])


def _sk_precisions(g):
    p = np.asarray(g.precisions_cholesky)
    if g.covariance_type in ("full", "tied"):
        return p @ np.swapaxes(p, -1, -2)
    return p**2


@pytest.mark.parametrize("ct", G.COVARIANCE_TYPES)
def test_em_matches_sklearn_from_same_init(ct):
    x = _blobs()
    with jax.enable_x64(True):
        init = G.initialize(jax.random.key(0), jnp.asarray(x), 3, ct, kmeans_iters=0)
        ours, info = G.fit(x, init=init, covariance_type=ct, tol=1e-6, max_iter=100)
        sk = GaussianMixture(3, covariance_type=ct, weights_init=np.asarray(init.weights),
                             means_init=np.asarray(init.means), precisions_init=_sk_precisions(init),
                             tol=1e-6, max_iter=100).fit(x)
        ll = float(info.final_log_likelihood)
        assert abs(ll - sk.score(x)) <= 1e-4 * abs(sk.score(x))
        # Means and weights up to a permutation of the components.
        cost = np.linalg.norm(np.asarray(ours.means)[:, None] - sk.means_[None], axis=-1)
        rows, cols = linear_sum_assignment(cost)
        np.testing.assert_allclose(np.asarray(ours.means)[rows], sk.means_[cols], atol=1e-4)
        np.testing.assert_allclose(np.asarray(ours.weights)[rows], sk.weights_[cols], atol=1e-4)
        assert int(info.num_iters) == sk.n_iter_



@pytest.mark.parametrize("ct", G.COVARIANCE_TYPES)
def test_m_step_from_sufficient_statistics_equals_the_m_step_on_data(ct):
    x = _blobs()
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        resp = jax.nn.softmax(jax.random.normal(jax.random.PRNGKey(0), (x.shape[0], 3), jnp.float64), -1)
        ref = G.m_step(x, resp, ct, 1e-6)
        stats = G.sufficient_statistics(x, resp, ct)
        for scale in (1.0, 1.0 / x.shape[0]):   # sums, or batch means as online EM keeps them
            got = G.m_step_from_statistics(*(s * scale for s in stats), covariance_type=ct, reg_covar=1e-6)
            for name in ("weights", "means", "covariances"):
                np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ct", G.COVARIANCE_TYPES)
def test_em_never_decreases_log_likelihood(ct):
    # reg_covar=0 makes every M-step the exact maximizer, the premise of the EM monotonicity theorem.
    x = _blobs(1)
    with jax.enable_x64(True):
        _, info = G.fit(x, 4, covariance_type=ct, rng=jax.random.key(3), kmeans_iters=0, tol=0.0, max_iter=40,
                        reg_covar=0.0)
        h = np.asarray(info.log_likelihood)
        assert int(info.num_iters) == 40 and np.all(np.isfinite(h))
        assert np.all(np.diff(h) >= -1e-10), np.diff(h).min()
        assert h[-1] > h[0] + 1e-3  # it did improve


def test_data_parallel_em_on_8_devices_equals_one_device():
    x = _blobs(2, n=(101, 77, 60))  # 238 points: not a multiple of 8, so padding rows with weight 0 are used
    assert len(jax.devices()) == 8
    axis = (jax.sharding.AxisType.Auto,)
    mesh8 = jax.make_mesh((8,), ("data",), axis_types=axis)
    mesh1 = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",), axis_types=axis)
    with jax.enable_x64(True):
        init = G.initialize(jax.random.key(5), jnp.asarray(x), 3, "full")
        g8, i8 = G.fit(x, init=init, mesh=mesh8, tol=1e-8)
        g1, i1 = G.fit(x, init=init, mesh=mesh1, tol=1e-8)
        assert len(g8.means.sharding.device_set) == 8
        assert int(i8.num_iters) == int(i1.num_iters) > 3
        for a, b in zip(jax.tree.leaves(g8), jax.tree.leaves(g1)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(i8.final_log_likelihood), float(i1.final_log_likelihood), rtol=1e-12)


def test_log_prob_responsibilities_and_bic_match_closed_forms():
    x = _blobs(3)
    with jax.enable_x64(True):
        sk = GaussianMixture(3, random_state=0).fit(x)
        g = G.from_covariances(sk.weights_, sk.means_, sk.covariances_, "full")
        dens = sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(sk.weights_, sk.means_, sk.covariances_))
        np.testing.assert_allclose(np.asarray(G.log_prob(g, x)), np.log(dens), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(G.responsibilities(g, x)), sk.predict_proba(x), atol=1e-10)
        assert G.bic(g, x) == pytest.approx(sk.bic(x), rel=1e-10)
        assert G.aic(g, x) == pytest.approx(sk.aic(x), rel=1e-10)
        # Log-sum-exp: a point 1e3 away from every mean still gets finite responsibilities summing to one.
        far = np.full((1, 3), 1e3)
        r = np.asarray(G.responsibilities(g, far))
        assert np.all(np.isfinite(r)) and r.sum() == pytest.approx(1.0)


def test_bic_chooses_the_true_number_of_components():
    x = _blobs(4, n=(150, 150, 150))
    bics = [G.bic(G.fit(x, k, rng=jax.random.key(k), tol=1e-4, kmeans_iters=0)[0], x) for k in (2, 3, 4)]
    assert int(np.argmin(bics)) + 2 == 3, bics


def test_samples_reproduce_mixture_moments():
    w = np.array([0.2, 0.5, 0.3])
    mu = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]])
    cov = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.2, 0.0], [0.0, 2.0]], [[1.5, -0.7], [-0.7, 1.0]]])
    g = G.from_covariances(jnp.asarray(w, jnp.float32), mu, cov, "full")
    s, k = G.sample(jax.random.key(0), g, 200_000)
    s, k = np.asarray(s, np.float64), np.asarray(k)
    mean = w @ mu
    second = np.einsum("k,kde->de", w, cov + mu[:, :, None] * mu[:, None, :])
    np.testing.assert_allclose(np.bincount(k, minlength=3) / len(k), w, atol=4e-3)  # ~4 standard errors
    np.testing.assert_allclose(s.mean(0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(s.T, bias=True), second - np.outer(mean, mean), atol=0.06)
    # Each component's samples have that component's covariance.
    np.testing.assert_allclose(np.cov(s[k == 2].T), cov[2], atol=0.05)


def test_kmeans_plus_plus_seeds_one_centre_per_far_cluster():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(50, 2)) * 0.1 + c for c in ([0, 0], [100, 0], [0, 100])])
    for seed in range(5):  # uniform seeding would put two centres in one cluster 7 times in 9
        centers = np.asarray(G.kmeans_plus_plus(jax.random.key(seed), jnp.asarray(x, jnp.float32), 3))
        assert sorted(np.round(centers / 100).astype(int).tolist()) == [[0, 0], [0, 1], [1, 0]]


def test_empty_component_is_frozen_and_em_stays_monotone():
    x = _blobs(5)
    with jax.enable_x64(True):
        good = G.initialize(jax.random.key(0), jnp.asarray(x), 2, "full", kmeans_iters=0)
        dead_mean = jnp.full((1, 3), 1e4)
        init = G.from_covariances(jnp.concatenate([good.weights * 0.9, jnp.array([0.1])]),
                                  jnp.concatenate([good.means, dead_mean]),
                                  jnp.concatenate([good.covariances, jnp.eye(3)[None]]), "full")
        g, info = G.fit(x, init=init, tol=0.0, max_iter=30, reg_covar=0.0)
        ref, ref_info = G.fit(x, init=good, tol=0.0, max_iter=30, reg_covar=0.0)
        h = np.asarray(info.log_likelihood)
        assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(g))
        assert np.all(np.diff(h) >= -1e-10)
        assert float(g.weights[2]) < 1e-12
        np.testing.assert_array_equal(np.asarray(g.means[2]), np.asarray(dead_mean[0]))  # frozen where it was
        # The other two components evolve exactly as a 2-component fit.
        np.testing.assert_allclose(np.asarray(g.means[:2]), np.asarray(ref.means), rtol=1e-8)
        np.testing.assert_allclose(float(info.final_log_likelihood), float(ref_info.final_log_likelihood), rtol=1e-10)


def test_bad_input_gives_clear_errors():
    x = _blobs()
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        G.fit(bad, 2, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="larger than the number of points"):
        G.fit(x[:3], 5, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="Unknown covariance_type"):
        G.fit(x, 2, rng=jax.random.key(0), covariance_type="banded")
    with pytest.raises(ValueError, match="2-D"):
        G.fit(x[:, 0], 2, rng=jax.random.key(0))

"""Tests of gen_jax/classical/vigmm.py: the ELBO (monotone, stationary at the updates, exact when K = 1), the
automatic choice of the number of components against scikit-learn, and the predictive density. float64."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from jax.scipy.special import multigammaln
from sklearn.mixture import BayesianGaussianMixture

from gen_jax.classical import vigmm as V


def _three_blobs(seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(120, 2)) * 0.5 + [5.0, 0.0],
                           rng.normal(size=(90, 2)) * 0.5 - [0.0, 5.0],
                           rng.normal(size=(90, 2)) * 0.5 + [-5.0, 5.0]])


@pytest.mark.parametrize("weight_prior", V.WEIGHT_PRIORS)
def test_ten_components_on_three_blobs_leave_three_like_sklearn(weight_prior):
    x = _three_blobs()
    with jax.enable_x64(True):
        post, info = V.fit(x, 10, rng=jax.random.key(0), weight_prior=weight_prior, tol=1e-8, max_iter=300)
        h = np.asarray(info.elbo)
        h = h[~np.isnan(h)]
        assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:])), np.diff(h).min()  # the bound never decreases
        assert bool(info.converged)
        ours = V.effective_components(post)
    sk = BayesianGaussianMixture(n_components=10, weight_concentration_prior_type=weight_prior, max_iter=300,
                                 random_state=0).fit(x)
    assert ours == int(np.sum(sk.weights_ > 0.01)) == 3


@pytest.mark.parametrize("weight_prior", V.WEIGHT_PRIORS)
def test_updates_are_stationary_points_of_the_elbo(weight_prior):
    # The M-step maximizes the ELBO over q(pi), q(mu, Lambda) for fixed responsibilities, so the gradient of
    # our ELBO expression vanishes there: this ties every KL formula to the update equations.
    x = jnp.asarray(_three_blobs(1))
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        prior = V.default_prior(x, 4, weight_prior)
        resp = jax.nn.softmax(jax.random.normal(jax.random.key(0), (x.shape[0], 4), jnp.float64), axis=-1)
        post = V.m_step(x, resp, prior)
        grads = jax.jit(jax.grad(V.elbo))(post, prior, x, resp)
        for name in ("conc1", "beta", "means", "nu", "w_inv"):
            g = np.asarray(getattr(grads, name))
            assert np.max(np.abs(g)) < 1e-8, (name, g)
        # And moving away from the update lowers the bound.
        moved = post.replace(means=post.means + 0.1, nu=post.nu + 1.0)
        assert float(V.elbo(moved, prior, x, resp)) < float(V.elbo(post, prior, x, resp))


def test_single_component_elbo_equals_the_exact_log_evidence():
    # K = 1: q(mu, Lambda) is the exact Gaussian-Wishart posterior, so the ELBO is log p(X) (Murphy 2007, eq. 266).
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        x = jnp.asarray(rng.normal(size=(40, 3)) @ np.array([[1.0, 0.2, 0], [0, 0.7, 0.1], [0, 0, 1.3]]) + 1.0)
        prior = V.default_prior(x, 1, "dirichlet_distribution", beta0=0.5, m0=np.zeros(3), nu0=4.0,
                                w0_inv=2.0 * np.eye(3))
        post = V.m_step(x, jnp.ones((40, 1)), prior)
        n, d = x.shape
        logdet = lambda a: jnp.linalg.slogdet(a)[1]  # noqa: E731
        evidence = (-0.5 * n * d * np.log(np.pi) + multigammaln(post.nu[0] / 2, d) - multigammaln(prior.nu0 / 2, d)
                    + 0.5 * prior.nu0 * logdet(prior.w0_inv) - 0.5 * post.nu[0] * logdet(post.w_inv[0])
                    + 0.5 * d * (jnp.log(prior.beta0) - jnp.log(post.beta[0])))
        assert float(V.elbo(post, prior, x)) == pytest.approx(float(evidence), rel=1e-9)


def test_predictive_density_integrates_to_one():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=(30, 1)) - 2.0, rng.normal(size=(20, 1)) * 0.5 + 2.0])
    with jax.enable_x64(True):
        x = jnp.asarray(x)
        prior = V.default_prior(x, 2, "dirichlet_distribution")
        post = V.m_step(x, jax.nn.one_hot((x[:, 0] > 0).astype(jnp.int32), 2, dtype=x.dtype), prior)
        grid = np.linspace(-60.0, 60.0, 60_001)[:, None]
        dens = np.exp(np.asarray(V.predictive_log_prob(post, grid)))
        assert np.trapezoid(dens, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)  # Student-t tails beyond +-60


def test_bad_input_raises():
    x = _three_blobs()
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        V.fit(bad, 3, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="num_components"):
        V.fit(x[:4], 10, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="Unknown weight_prior"):
        V.fit(x, 3, rng=jax.random.key(0), weight_prior="pitman_yor")

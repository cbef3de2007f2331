"""Tests of gen_jax/classical/bayes.py: QDA as the oracle, Monte Carlo checks of sampling, degenerate classes."""
import numpy as np
import pytest
import jax
from scipy.stats import multivariate_normal
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

from gen_jax.classical import bayes


def _data(seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, -1.0], [-1.0, 2.0, 1.0, 0.0]])
    xs, ys = [], []
    for c, n in enumerate((60, 90, 50)):
        a = rng.normal(size=(4, 4)) * 0.5
        xs.append(rng.normal(size=(n, 4)) @ (np.eye(4) + a) + means[c])
        ys.append(np.full(n, c))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_parameters_and_decisions_match_qda(reg):
    x, y = _data()
    with jax.enable_x64(True):
        model = bayes.fit(x, y, reg=reg)
        qda = QuadraticDiscriminantAnalysis(reg_param=reg, store_covariance=True).fit(x, y)
        np.testing.assert_allclose(np.asarray(model.means), qda.means_, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(model.covariances), np.stack(qda.covariance_), atol=1e-12)
        np.testing.assert_allclose(np.asarray(model.weights), qda.priors_, rtol=1e-12)
        np.testing.assert_allclose(np.exp(np.asarray(bayes.log_posterior(model, x))), qda.predict_proba(x), atol=1e-10)
        np.testing.assert_array_equal(np.asarray(bayes.predict(model, x)), qda.predict(x))
        assert bayes.accuracy(model, x, y) == pytest.approx(qda.score(x, y))


def test_densities_are_the_class_conditional_mixture():
    x, y = _data(1)
    with jax.enable_x64(True):
        model = bayes.fit(x, y, reg=0.1)
        m, c, w = map(np.asarray, (model.means, model.covariances, model.weights))
        per_class = np.stack([multivariate_normal(m[k], c[k]).logpdf(x) for k in range(3)], 1)
        np.testing.assert_allclose(np.asarray(bayes.class_log_prob(model, x)), per_class, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(bayes.joint_log_prob(model, x, y)),
                                   per_class[np.arange(len(y)), y] + np.log(w[y]), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(bayes.log_prob(model, x)),
                                   np.log(np.exp(per_class) @ w), rtol=1e-10)


def test_samples_from_p_x_given_y_reproduce_the_fitted_gaussian():
    x, y = _data(2)
    model = bayes.fit(x, y, reg=0.05)
    n = 200_000
    s = np.asarray(bayes.sample_class(jax.random.key(0), model, 1, n), np.float64)
    mu, cov = np.asarray(model.means[1], np.float64), np.asarray(model.covariances[1], np.float64)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(s.mean(0) - mu) < 5 * se_mean)
    # Var of a sample covariance entry: (S_ij^2 + S_ii S_jj) / n.
    se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)
    assert np.all(np.abs(np.cov(s.T) - cov) < 5 * se_cov)


def test_joint_samples_follow_the_class_prior():
    x, y = _data(3)
    model = bayes.fit(x, y)
    xs, ys = bayes.sample_joint(jax.random.key(1), model, 100_000)
    freq = np.bincount(np.asarray(ys), minlength=3) / 100_000
    prior = np.asarray(model.weights)
    assert np.all(np.abs(freq - prior) < 5 * np.sqrt(prior * (1 - prior) / 100_000))
    # And the class-2 samples of the joint have class 2's mean.
    np.testing.assert_allclose(np.asarray(xs)[np.asarray(ys) == 2].mean(0), np.asarray(model.means[2]), atol=0.05)


def test_degenerate_classes_and_bad_input_raise():
    x, y = _data()
    y1 = y.copy()
    y1[y1 == 2] = 1
    y1[0] = 2  # class 2 now has one example
    with pytest.raises(ValueError, match="class 2 has 1 example"):
        bayes.fit(x, y1)
    with pytest.raises(ValueError, match="class 3 has 0 example"):
        bayes.fit(x, y, num_classes=4)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bayes.fit(bad, y)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        bayes.fit(x, y, num_classes=2)
    with pytest.raises(ValueError, match="shape"):
        bayes.fit(x, y[:-1])

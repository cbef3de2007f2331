"""Tests of gen_jax/classical/steps.py (+ models.py): the autoencoder Experiment on the engine, the linear probe."""

import numpy as np
import pytest
import jax
import jax.numpy as jnp
import ml_collections

from gen_jax.classical import models, steps
from gen_jax.core.config import base_config
from gen_jax.data import DatasetInfo


def _config(arch):
    c = base_config()
    c.experiment = "autoencoder"
    c.optim.learning_rate = 3e-3
    c.model = ml_collections.ConfigDict(dict(arch=arch, hidden=(32,), features=(8, 8), code_dim=4,
                                             loss="squared_error"))
    return c


INFO = DatasetInfo.of_x(name="digits", shape=(8, 8, 1), num_levels=17, num_classes=10,
                        splits={"train": 1437, "test": 360}, dtype="uint8")


def test_train_step_reduces_reconstruction_error_and_eval_matches_it(arch="mlp", num_steps=70, ratio=0.3):
    # The conv model is not compiled here (several seconds of CPU on this machine): the conv config's training
    # run is its end-to-end check (README table).
    exp = steps.AutoencoderExperiment(_config(arch), INFO)
    rng = np.random.default_rng(0)
    # Images that live on a 2-D manifold: a 4-D code can reconstruct them.
    a, b = rng.integers(0, 17, size=(2, 32, 1, 1, 1))
    grid = np.linspace(0, 1, 8)
    x = np.clip(a * grid[None, :, None, None] + b * grid[None, None, :, None], 0, 16).astype(np.uint8)
    batch = dict(x=x, label=np.zeros(32, np.int32))
    state = exp.init_state(jax.random.key(0), batch)
    train = jax.jit(exp.train_step)
    first = None
    for i in range(num_steps):
        state, m = train(state, batch, jax.random.key(i))
        first = float(m["loss"]) if first is None else first
    ev = jax.jit(exp.eval_step)(state, batch, jax.random.key(0))
    assert float(jnp.mean(ev["squared_error"])) < ratio * first
    x01 = x / 16.0
    rec = models.reconstruct(jax.jit(exp.model.apply)({"params": state.params}, jnp.asarray(x01, jnp.float32)))
    np.testing.assert_allclose(ev["mse_per_pixel"], np.mean(((x01 - rec) ** 2).reshape(32, -1), -1), rtol=1e-4)


def test_linear_probe_separates_informative_codes_and_not_noise():
    rng = np.random.default_rng(1)
    y_tr, y_te = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    centers = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])
    f_tr, f_te = centers[y_tr] + rng.normal(size=(300, 2)), centers[y_te] + rng.normal(size=(300, 2))
    assert steps.probe_accuracy(f_tr, y_tr, f_te, y_te, 3) > 0.95
    noise_acc = steps.probe_accuracy(rng.normal(size=(300, 2)), y_tr, rng.normal(size=(300, 2)), y_te, 3)
    assert noise_acc < 0.5  # chance is 1/3; 300 test points give a standard error of about 0.03


def test_bad_configs_give_clear_errors():
    c = _config("mlp")
    c.model.arch = "transformer"
    with pytest.raises(ValueError, match="unknown autoencoder arch 'transformer'"):
        steps.AutoencoderExperiment(c, INFO)
    with pytest.raises(ValueError, match="number of grey levels"):
        points = DatasetInfo.of_x("p", (2,), num_levels=None, num_classes=10, splits=INFO.splits)
        steps.AutoencoderExperiment(_config("mlp"), points)
    c = _config("conv")
    c.model.features = (8, 8, 8, 8)
    with pytest.raises(ValueError, match="divisible by 16"):
        steps.AutoencoderExperiment(c, INFO)


def _gmm_config(**model):
    c = base_config()
    c.experiment = "gmm"
    m = dict(num_components=3, covariance_type="full", reg_covar=1e-6, kappa=0.0, kmeans_iters=0)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


TOY = DatasetInfo.of_x(name="toy2d/ring8", shape=(2,), num_levels=None, num_classes=8,
                       splits={"train": 64, "test": 64}, dtype="float32")


def test_em_train_step_with_rho_one_on_the_full_batch_is_one_batch_em_iteration():
    from gen_jax.classical import gmm

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 2)) + [3, 0], rng.normal(size=(20, 2)) - [0, 3], rng.normal(size=(14, 2))])
    with jax.enable_x64(True):
        exp = steps.GMMExperiment(_gmm_config(), TOY)
        batch = dict(x=x, label=np.zeros(64, np.int32))
        state = exp.init_state(jax.random.key(0), batch)
        step = jax.jit(exp.train_step)
        for i in range(3):
            ours_before = exp.to_gmm(state.params)
            state, metrics = step(state, batch, jax.random.key(i))
            ref, ll = gmm.em_iteration(ours_before, jnp.asarray(x), jnp.ones(64), 1e-6, 1e-3)
            for name in ("weights", "means", "covariances"):
                np.testing.assert_allclose(np.asarray(state.params[name]), np.asarray(getattr(ref, name)),
                                           rtol=1e-9, atol=1e-12)
            assert float(metrics["log_likelihood"]) == pytest.approx(float(ll), rel=1e-12)
            state = state.replace(step=state.step + 1)  # what the engine does
        # Per-example eval equals the mixture log-density.
        ev = exp.eval_step(state, batch, jax.random.key(9))
        np.testing.assert_allclose(ev["log_likelihood"], gmm.log_prob(exp.to_gmm(state.params), jnp.asarray(x)),
                                   rtol=1e-12)


def test_gmm_experiment_rejects_bad_settings():
    with pytest.raises(ValueError, match="covariance_type"):
        steps.GMMExperiment(_gmm_config(covariance_type="spherical"), TOY)
    with pytest.raises(ValueError, match="kappa"):
        steps.GMMExperiment(_gmm_config(kappa=0.3), TOY)
    exp = steps.GMMExperiment(_gmm_config(num_components=10), TOY)
    with pytest.raises(ValueError, match="fewer than num_components=10"):
        exp.init_state(jax.random.key(0), dict(x=np.zeros((4, 2), np.float32), label=np.zeros(4, np.int32)))

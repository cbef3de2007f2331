"""gen_jax/vae/steps.py: likelihood plumbing under the common protocol, eval bounds."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax import data as data_lib
from gen_jax.vae.steps import Likelihood, VAEExperiment
from experiments.configs import vae_digits


def test_uniform_decoders_give_the_protocol_constants():
    x = jnp.asarray(data_lib.load_arrays("digits", "test")["x"][:5])
    d = 64
    cat = Likelihood("categorical", 17)
    _, target = cat.prepare(x, jax.random.PRNGKey(0))
    np.testing.assert_allclose(-cat.log_prob(jnp.zeros(x.shape + (17,)), target), d * math.log(17), rtol=1e-6)
    assert cat.nll_offset(d) == 0.0
    # Gaussian decoder on dequantized data: the discrete bound adds D log K.
    gauss = Likelihood("gaussian", 17)
    inp, y = gauss.prepare(x, jax.random.PRNGKey(1))
    assert float(jnp.min(y)) >= 0.0 and float(jnp.max(y)) < 1.0
    np.testing.assert_array_equal(np.floor(np.asarray(y) * 17), np.asarray(x))  # each value stays in its cell
    assert gauss.nll_offset(d) == pytest.approx(d * math.log(17))
    # Bernoulli with logits 0: D log 2 nats whatever the binary image.
    bern = Likelihood("bernoulli", 17, "static")
    _, b = bern.prepare(x, jax.random.PRNGKey(2))
    assert set(np.unique(np.asarray(b))) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(b), (np.asarray(x) >= 8).astype(np.float32))
    np.testing.assert_allclose(-bern.log_prob(jnp.zeros(x.shape + (1,)), b), d * math.log(2), rtol=1e-6)
    with pytest.raises(ValueError, match="binarize"):
        Likelihood("bernoulli", 17)


def test_eval_iwae_bound_is_tighter_than_the_elbo():
    config = vae_digits.get_config()
    config.model.arch, config.model.eval_iwae_samples = "mlp", 100
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    batch = {k: jnp.asarray(v[:32]) for k, v in data_lib.load_arrays("digits", "test").items()}
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    out = jax.jit(exp.eval_step)(state, batch, jax.random.PRNGKey(1))
    assert all(v.shape == (32,) for v in out.values())
    np.testing.assert_allclose(out["elbo"], out["reconstruction"] - out["kl"], rtol=1e-5)
    # Averaged over examples, -L_100 < -L_1 (an untrained encoder leaves a large gap to close).
    assert float(jnp.mean(out["nll_nats"])) < float(jnp.mean(out["neg_elbo_nats"]))
    np.testing.assert_allclose(out["nll_bpd"], out["nll_nats"] / (64 * math.log(2)), rtol=1e-6)

"""gen_jax/vae/steps.py: eval bounds under the common protocol."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import data as data_lib
from gen_jax.vae.steps import VAEExperiment
from experiments.configs import vae_digits


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

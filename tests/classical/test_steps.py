"""Tests of gen_jax/classical/steps.py (+ models.py): the autoencoder Experiment on the engine, the linear probe."""
import dataclasses

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


INFO = DatasetInfo(name="digits", shape=(8, 8, 1), num_levels=17, num_classes=10,
                   splits={"train": 1437, "test": 360}, dtype="uint8")


@pytest.mark.parametrize("arch,num_steps,ratio", [("mlp", 70, 0.3), ("conv", 0, None)])
def test_train_step_reduces_reconstruction_error_and_eval_matches_it(arch, num_steps, ratio):
    # conv: forward pass and eval only (compiling its gradient costs ~10 s of CPU here); the conv config's
    # training run is the end-to-end check (README table).
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
    if num_steps:
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
        steps.AutoencoderExperiment(_config("mlp"), dataclasses.replace(INFO, num_levels=None, shape=(2,)))
    c = _config("conv")
    c.model.features = (8, 8, 8, 8)
    with pytest.raises(ValueError, match="divisible by 16"):
        steps.AutoencoderExperiment(c, INFO)

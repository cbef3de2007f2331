"""The autoregressive Experiment on the engine: 8 devices == 1, exact eval values, clear config errors."""
import math

import chex
import jax
import numpy as np
import pytest

from experiments.configs import ar_binarized_digits, ar_digits
from gen_jax import data as data_lib
from gen_jax.autoregressive import losses, models
from gen_jax.autoregressive.steps import AutoregressiveExperiment
from gen_jax.core import steps as steps_lib


def _tiny(name="pixelcnn_pp", binarized=False):
    c = (ar_binarized_digits if binarized else ar_digits).get_config(name)
    c.batch_size = 16
    if name == "pixelcnn_pp":
        c.model.kwargs = dict(features=8, num_resnet=1, num_scales=1, dropout=0.3)
    else:
        c.model.kwargs = dict(features=8, num_blocks=1, head_features=8)
    return c


def test_train_step_same_on_8_devices_as_on_1():
    exp = AutoregressiveExperiment(_tiny("pixelcnn"), data_lib.dataset_info("digits"))
    batches = [next(iter(data_lib.make_loader("digits", "train", batch_size=16, seed=s))) for s in range(2)]
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, batches, devs) for devs in (jax.devices()[:1], jax.devices()))
    chex.assert_trees_all_close(s1.params, s8.params, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(m1, m8, rtol=1e-4, atol=1e-4)


def test_eval_step_is_the_exact_per_example_nll_on_binarized_digits():
    exp = AutoregressiveExperiment(_tiny("pixelcnn", binarized=True), data_lib.dataset_info("digits"))
    batch = next(iter(data_lib.make_loader("digits", "test", batch_size=8, shuffle=False, num_epochs=1)))
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    out = jax.jit(exp.eval_step)(state, batch, jax.random.PRNGKey(1))
    xb = (np.asarray(batch["x"]) >= 8).astype(np.int32)                       # binarized digits
    logits = exp.model.apply({"params": state.params}, models.scale_input(xb, 2))
    want = losses.categorical_nll(logits, xb, 2)
    np.testing.assert_allclose(out["nll_nats"], want, rtol=1e-5)
    np.testing.assert_allclose(out["nll_bpd"], want / (64 * math.log(2)), rtol=1e-5)
    assert exp.num_levels == 2


def test_bad_config_gives_clear_errors():
    info = data_lib.dataset_info("digits")
    c = _tiny("pixelcnn")
    c.model.data = "grey"
    with pytest.raises(ValueError, match="model.data"):
        AutoregressiveExperiment(c, info)
    c = _tiny("pixelcnn")
    c.model.conditional = True
    with pytest.raises(ValueError, match="gated_pixelcnn only"):
        AutoregressiveExperiment(c, info)

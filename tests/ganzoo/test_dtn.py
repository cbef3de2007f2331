"""DTN experiment: f stays fixed and is the source classifier's features, the generator's terms by hand,
8 devices = 1, exact resume with two loaders."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.ganzoo import losses
from gen_jax.ganzoo.dtn import DTNExperiment
from tests.gan.test_steps import digit_batches
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

DIGITS = data.dataset_info("digits")


def config(**model):
    c = base_config()
    c.experiment = "dtn"
    c.dataset = "digits"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    c.inputs = ml_collections.ConfigDict({"source": dict(split="train[:700]"), "target": dict(split="train[700:]")})
    m = dict(f_arch="mlp", f_steps=20, g_features=4, d_features=4, d_norm="batch", const_weight=15.0,
             tid_weight=15.0, tv_weight=0.1)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def batches(n, b=16):
    a, t = digit_batches(n, b, seed=0), digit_batches(n, b, seed=1)
    return [{"source": x, "target": {"x": 16 - y["x"], "label": y["label"]}} for x, y in zip(a, t)]


def test_generator_terms_by_hand_and_f_is_fixed():
    exp = DTNExperiment(config(), DIGITS)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    batch = batches(1)[0]
    s01, t_pm1 = exp._inputs(batch)
    terms, (gs, gt), _ = exp.generator_terms(state.params["generator"], state.model_state["generator"],
                                             state.extra["f"], s01, t_pm1)
    clf = exp.clf
    fs = clf.features(s01)                                   # f is the source classifier's penultimate layer
    np.testing.assert_allclose(terms["const"], jnp.sum((fs - clf.features((gs + 1) / 2)) ** 2, -1) / 128,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(terms["tid"], jnp.mean((t_pm1 - gt) ** 2, (1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(terms["tv"], losses.total_variation(gs), rtol=1e-6)
    new, metrics = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    chex.assert_trees_all_equal(new.extra["f"], state.extra["f"])          # never updated
    assert not np.allclose(new.params["generator"]["Dense_0"]["kernel"], state.params["generator"]["Dense_0"]["kernel"])
    assert np.isfinite(float(metrics["g_loss"]))


def test_bad_configs_are_named():
    c = config()
    c.inputs = ml_collections.ConfigDict({"A": dict(split="train")})
    with pytest.raises(ValueError, match="'source' and 'target'"):
        DTNExperiment(c, DIGITS)
    with pytest.raises(ValueError, match="feature_target"):
        DTNExperiment(config(feature_target="label"), DIGITS)


def test_train_step_same_on_8_devices_as_on_1():
    assert_same_on_8_devices_as_on_1(DTNExperiment(config(), DIGITS), batches(2))


def test_resume_is_exact_with_two_loaders(tmp_path):
    def cfg(steps):
        c = config()
        c.batch_size, c.eval_batch_size = 16, 48
        c.eval_split = "test[:96]"
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        return c

    rec = [r for r in assert_resume_is_exact(cfg, tmp_path) if r.get("split") == "test"]
    assert len(rec) == 2 and np.isfinite(rec[-1]["const"])

"""Perceptual GAN: the residual is added to the small object's features, the perception loss and the
adversarial branch's loss by hand, the perception branch's gradient reaches the generator, the frozen base
network, RoI sampling, 8 devices = 1, exact resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.ganzoo import perceptual
from gen_jax.ganzoo.perceptual import PerceptualGANExperiment
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

PASTED = data.dataset_info("pasted_digits")


def config(**model):
    c = base_config()
    c.experiment = "perceptual_gan"
    c.dataset = "pasted_digits"
    c.train_split = "train[:400]"
    c.optim.learning_rate, c.optim.b1 = 1e-3, 0.5
    m = dict(widths=(2, 4, 4), grid=4, g_features=4, res_blocks=1, d_features=2, p_features=4, base_steps=5)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def batches(n, b=8):
    a = data.load_arrays("pasted_digits", "train[:400]")
    pick = np.random.default_rng(0).permutation(400)[:n * b]          # the split is ordered by digit
    return [{k: np.asarray(v)[pick[i * b:(i + 1) * b]] for k, v in a.items()} for i in range(n)]


def test_perception_loss_and_roi_align_by_hand():
    logits = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    want = [-3.0 + np.log(np.e + np.e ** 2 + np.e ** 3), np.log(3.0)]
    np.testing.assert_allclose(perceptual.perception_loss(logits, jnp.array([2, 1])), want, rtol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        perceptual.perception_loss(logits, jnp.array([0]))
    m = jnp.arange(16.0).reshape(1, 4, 4, 1)                           # bins of 2x2 pixels: their centre means
    np.testing.assert_allclose(perceptual.roi_align(m, jnp.zeros((1, 2), jnp.int32), 4.0, 2, 1)[0, ..., 0],
                               [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(perceptual.roi_align(m, jnp.array([[1, 2]]), 2.0, 2, 1)[0, ..., 0],
                               [[6.0, 7.0], [10.0, 11.0]])              # a 2x2 box at (1, 2): the pixels


def test_residual_is_added_and_branches_by_hand():
    exp = PerceptualGANExperiment(config(), PASTED)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    batch = batches(1)[0]
    bp = state.extra["base"]
    sr, _ = exp.super_resolved(state.params["generator"], bp, batch)
    low, plain = exp.features(bp, batch, "small")
    np.testing.assert_allclose(sr, plain + exp.g.apply({"params": state.params["generator"]}, low), rtol=1e-6)
    zero = jax.tree.map(jnp.zeros_like, state.params["generator"])      # G = 0: the plain features come back
    np.testing.assert_array_equal(exp.super_resolved(zero, bp, batch)[0], plain)
    # the adversarial branch: -log sigmoid(A(F_large)) - log(1 - sigmoid(A(F_sr))) from its logits
    _, large = exp.features(bp, batch, "large")
    loss, logits, _ = exp.adversarial_terms(state.params["adversarial"], state.model_state["adversarial"], large,
                                            sr, train=False)
    lr, lf = np.asarray(logits[:8], np.float64), np.asarray(logits[8:], np.float64)
    np.testing.assert_allclose(loss, -np.log(1 / (1 + np.exp(-lr))) - np.log(1 - 1 / (1 + np.exp(-lf))), rtol=1e-5)
    a_alone = exp.a.apply({"params": state.params["adversarial"], **state.model_state["adversarial"]}, large,
                          train=False)["adv"][:, 0]
    np.testing.assert_allclose(logits[:8], a_alone, rtol=1e-5, atol=1e-6)


def test_perception_gradient_reaches_the_generator_and_base_is_frozen():
    exp = PerceptualGANExperiment(config(adv_weight=0.0), PASTED)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    batch = batches(1)[0]
    bp = state.extra["base"]

    def perception(gp):
        sr, _ = exp.super_resolved(gp, bp, batch)
        return jnp.mean(perceptual.perception_loss(exp._p_logits(state.params["perception"], sr), batch["label"]))

    grads = jax.grad(perception)(state.params["generator"])
    assert all(float(jnp.max(jnp.abs(g))) > 0 for g in jax.tree.leaves(grads))     # every G layer
    new, metrics = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    chex.assert_trees_all_equal(new.extra, state.extra)                 # base network and pretrained P frozen
    assert float(metrics["g_adv"]) > 0 and np.isfinite(float(metrics["g_loss"]))
    np.testing.assert_allclose(metrics["g_loss"], metrics["g_perception"], rtol=1e-6)   # adv_weight = 0
    assert not np.allclose(new.params["generator"]["out"]["kernel"], state.params["generator"]["out"]["kernel"])
    with pytest.raises(ValueError, match="lower_grid"):
        PerceptualGANExperiment(config(lower_grid=4), PASTED)


def test_train_step_same_on_8_devices_as_on_1():
    assert_same_on_8_devices_as_on_1(PerceptualGANExperiment(config(), PASTED), batches(2))


def test_resume_is_exact(tmp_path):
    def cfg(steps):
        c = config()
        c.batch_size, c.eval_batch_size = 8, 16
        c.eval_split = "test[:32]"
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"small": dict(kind="small_objects")})
        return c

    rec = [r for r in assert_resume_is_exact(cfg, tmp_path) if r.get("split") == "small"]
    assert len(rec) == 2 and 0.0 <= rec[-1]["small_sr_acc"] <= 1.0

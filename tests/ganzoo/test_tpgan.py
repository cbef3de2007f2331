"""TP-GAN: its losses by hand values, the local pathways reach only the pixels of their patches, the
generator's terms in the train step, the frozen recogniser, 8 devices = 1, exact resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.ganzoo import tpgan
from gen_jax.ganzoo.tpgan import TPGANExperiment
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

ROT = data.dataset_info("rotated_digits")


def config(**model):
    c = base_config()
    c.experiment = "tpgan"
    c.dataset = "rotated_digits"
    c.train_split = "train[:64]"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    m = dict(g_features=2, local_features=2, d_features=2, patch_size=12, recogniser_arch="mlp",
             recogniser_steps=20, sym_weight=0.3, adv_weight=0.1, ip_weight=0.5, tv_weight=1e-3)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def batches(n, b=8):
    a = data.load_arrays("rotated_digits", "train[:64]", features=("x", "target", "label", "angle_degrees"))
    return [{k: np.asarray(v)[i * b:(i + 1) * b] for k, v in a.items()} for i in range(n)]


def test_losses_by_hand():
    sym = jnp.array([[0.0, 1.0, 1.0, 0.0], [2.0, -1.0, -1.0, 2.0]]).reshape(1, 2, 4, 1)
    assert float(tpgan.symmetry_loss(sym)[0]) == 0.0                    # mirror-symmetric: exactly 0
    row = jnp.array([0.0, 1.0, 2.0, 4.0]).reshape(1, 1, 4, 1)          # |0 - 4| + |1 - 2| over 2 pixels
    np.testing.assert_allclose(tpgan.symmetry_loss(row), [2.5])
    img = jnp.array([[0.0, 1.0], [3.0, 5.0]]).reshape(1, 2, 2, 1)       # dx 1 + 2, dy 3 + 4
    np.testing.assert_allclose(tpgan.total_variation_l1(img), [10.0])
    ip = tpgan.identity_loss([jnp.array([[1.0, -2.0]]), jnp.array([[3.0]])],
                             [jnp.array([[0.0, 0.0]]), jnp.array([[1.0]])])
    np.testing.assert_allclose(ip, [1.5 + 2.0])
    target = jnp.array([[1.0, 2.0], [3.0, 6.0]]).reshape(1, 2, 2, 1)   # pooled to 1x1: 3
    outs = [jnp.ones((1, 1, 1, 1)), jnp.zeros((1, 2, 2, 1))]           # |1 - 3| = 2; mean |0 - t| = 3
    np.testing.assert_allclose(tpgan.multiscale_l1(outs, target), [2.5])
    with pytest.raises(ValueError, match="cannot be averaged"):
        tpgan.multiscale_l1([jnp.zeros((1, 3, 3, 1))], jnp.zeros((1, 4, 4, 1)))


def test_local_pathways_reach_only_their_patches():
    g = tpgan.TPGANGenerator(image_size=16, channels=1, features=2, local_features=2, patch_size=6)
    x = jax.random.uniform(jax.random.PRNGKey(0), (1, 16, 16, 1), minval=-1, maxval=1)
    params = g.init(jax.random.PRNGKey(1), x)["params"]
    mask = tpgan.patch_mask(tpgan.quadrant_landmarks(16), 6, 16)
    assert not mask[0].any() and not mask[7].any() and mask[1:7, 1:7].all()   # rows 1..6 and 9..14
    local = {k: v for k, v in params.items() if k.startswith("local_")}
    assert len(local) == 4

    # d local[0, r, c, :].sum() / d (pathway k's parameters), for every pixel at once
    jac = jax.jit(jax.jacrev(lambda lp: g.apply({"params": {**params, **lp}}, x)["local"][0].sum(-1)))(local)
    reach = {k: sum(np.abs(np.asarray(v)).reshape(16, 16, -1).sum(-1) for v in jax.tree.leaves(t))
             for k, t in jac.items()}
    canvas = np.asarray(g.apply({"params": params}, x)["local"][0])
    assert np.all(canvas[~mask] == 0.0)
    for k, (r0, c0) in zip(sorted(reach), tpgan.patch_corners(tpgan.quadrant_landmarks(16), 6, 16)):
        own = np.zeros((16, 16), bool)
        own[r0:r0 + 6, c0:c0 + 6] = True
        assert np.all(reach[k][~own] == 0.0)          # outside its patch (so outside every patch): no gradient
        assert np.mean(reach[k][own] > 0) > 0.5        # inside: it reaches the output (ReLU zeros aside)
    with pytest.raises(ValueError, match="leaves the"):
        tpgan.TPGANGenerator(image_size=16, landmarks=((1, 1),), patch_size=6).init(jax.random.PRNGKey(0), x)


def test_generator_terms_and_the_recogniser_is_frozen():
    exp = TPGANExperiment(config(), ROT)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    batch = batches(1)[0]
    x, t = exp._inputs(batch)
    terms, out = exp.generator_terms(state.params["generator"], state.extra["f"], x, t)
    y = out["image"]
    assert [o.shape[1] for o in out["scales"]] == [7, 14] and y.shape == x.shape
    np.testing.assert_allclose(terms["pixel"], tpgan.multiscale_l1(list(out["scales"]) + [y], t), rtol=1e-6)
    clf = exp.clf                                                        # its two last layers on [0, 1] images
    want = (jnp.mean(jnp.abs(clf.features((y + 1) / 2) - clf.features((t + 1) / 2)), -1)
            + jnp.mean(jnp.abs(clf.logits((y + 1) / 2) - clf.logits((t + 1) / 2)), -1))
    np.testing.assert_allclose(terms["ip"], want, rtol=1e-4, atol=1e-6)
    new, metrics = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    chex.assert_trees_all_equal(new.extra["f"], state.extra["f"])
    assert not np.allclose(new.params["generator"]["local_0"]["Conv_0"]["kernel"],
                           state.params["generator"]["local_0"]["Conv_0"]["kernel"])
    assert np.isfinite(float(metrics["g_loss"]))
    with pytest.raises(ValueError, match="pixel_scales"):
        TPGANExperiment(config(pixel_scales=4), ROT)
    with pytest.raises(ValueError, match="image feature"):
        TPGANExperiment(config(feature_target="label"), ROT)


def test_train_step_same_on_8_devices_as_on_1():
    assert_same_on_8_devices_as_on_1(TPGANExperiment(config(), ROT), batches(2))


def test_resume_is_exact(tmp_path):
    def cfg(steps):
        c = config()
        c.batch_size, c.eval_batch_size = 8, 16
        c.eval_split = "test[:32]"
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"front": dict(kind="frontalisation")})
        return c

    rec = assert_resume_is_exact(cfg, tmp_path)
    front = [r for r in rec if r.get("split") == "front"]
    assert front and 0.0 <= front[-1]["frontal_acc"] <= 1.0 and "rotated_acc/-60" in front[-1]

"""IcGAN and Age-cGAN: the encoder and identity objectives by hand, the identity-preserving latent search
decreases its objective and is deterministic, the joint attribute label, 8 devices = 1, exact resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.ganzoo import icgan
from tests.gan.test_steps import _read

FAKE = DatasetInfo("fake", {"x": Feature((8, 8, 1), "uint8", "levels", num_levels=17),
                            "label": Feature.classes(10), "thickness_level": Feature.classes(4)}, {"train": 64})


def config(kind="icgan", **model):
    c = base_config()
    c.experiment = kind
    c.dataset = "digits"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    m = dict(arch="dcgan", conditional=True, loss="nonsaturating", latent_dim=4, g_features=4, d_features=4,
             d_norm="batch", e_features=4, class_feature="label", attribute_feature="thickness_level",
             search_steps=5, search_lr=0.1, recogniser_steps=20)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def fake_batches(n, b=16, seed=0):
    rng = np.random.default_rng(seed)
    return [{"x": rng.integers(0, 17, (b, 8, 8, 1)).astype(np.uint8), "label": rng.integers(0, 10, (b,)).astype(np.int32),
             "thickness_level": rng.integers(0, 4, (b,)).astype(np.int32)} for _ in range(n)]


def test_objectives_by_hand():
    np.testing.assert_allclose(icgan.latent_recovery_loss(jnp.asarray([[1.0, 2.0], [0.0, 0.0]]),
                                                          jnp.asarray([[0.0, 0.0], [3.0, -4.0]])), [5.0, 25.0])
    np.testing.assert_allclose(icgan.identity_distance(jnp.ones((1, 3)), jnp.zeros((1, 3))), [3.0])
    with pytest.raises(ValueError, match="one shape"):
        icgan.identity_distance(jnp.ones((1, 3)), jnp.zeros((1, 2)))


def test_identity_search_decreases_its_objective_and_is_deterministic():
    w = jax.random.normal(jax.random.PRNGKey(0), (3, 16))
    a = jax.random.normal(jax.random.PRNGKey(1), (16, 8))
    generate = lambda z: jnp.tanh(z @ w)
    recognise = lambda img: jnp.tanh(img @ a)
    x = generate(jnp.asarray([0.5, -1.0, 0.3]))
    run = jax.jit(lambda z0: icgan.identity_search(generate, recognise, x, z0, 60, 0.05))
    z, values = run(jnp.zeros(3))
    assert values.shape == (61,)
    assert float(values[-1]) < 0.05 * float(values[0])
    z2, values2 = run(jnp.zeros(3))
    chex.assert_trees_all_equal((z, values), (z2, values2))


def test_icgan_step_joint_label_and_encoders():
    exp = icgan.IcGANExperiment(config(), FAKE)
    assert exp.gan.num_classes == 40
    np.testing.assert_array_equal(exp.joint(jnp.asarray([0, 3, 9]), jnp.asarray([1, 2, 3])), [1, 14, 39])
    state = exp.init_state(jax.random.PRNGKey(0), None)
    assert set(state.params) == {"generator", "discriminator", "encoder_z", "encoder_y"}
    new, metrics = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, fake_batches(1)[0])
    for player in state.params:
        before, after = jax.tree.leaves(state.params[player]), jax.tree.leaves(new.params[player])
        assert any(not np.allclose(u, v) for u, v in zip(before, after)), player
    assert np.isfinite(float(metrics["encoder_z_loss"])) and np.isfinite(float(metrics["encoder_y_loss"]))
    with pytest.raises(ValueError, match="conditional"):
        icgan.IcGANExperiment(config(conditional=False), FAKE)
    with pytest.raises(ValueError, match="class feature"):
        icgan.IcGANExperiment(config(attribute_feature="age"), FAKE)


def test_icgan_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = icgan.IcGANExperiment(config(), FAKE)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, metrics = steps_lib.run_train_steps(exp, fake_batches(2), devices=devices)
        results.append((state.params, state.model_state, metrics))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_agecgan_resume_is_exact_and_its_search_lowers_the_identity_distance(tmp_path):
    from gen_jax.core import loop

    def cfg(steps):
        c = config("agecgan", attribute_feature="label")     # digits: the class stands in for the ordinal level
        c.batch_size, c.eval_batch_size = 16, 48
        c.eval_split = "test[:96]"
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)
    loop.train_and_evaluate(cfg(4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    assert len([r for r in a if r.get("split") == "test"]) == 2
    # the identity-preserving search from E(x) lowers ||FR(x) - FR(G(z, y0))||^2 for every image
    from gen_jax import data

    exp = icgan.AgeCGANExperiment(cfg(4), data.dataset_info("digits"))
    state = exp.init_state(jax.random.PRNGKey(0), None)
    x = exp.gan.preprocess(fake_batches(1, 8)[0]["x"])
    _, values = jax.jit(exp.optimise)(state, x, jnp.arange(8))
    assert values.shape == (8, 6) and bool(jnp.all(values[:, -1] < values[:, 0]))

"""The two-player step: k D updates + 1 G update, 8 devices = 1 device, learning a 1-D Gaussian, resume."""
import json
import os
import types

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.gan.steps import GAN, GANExperiment

DIGITS = types.SimpleNamespace(name="digits", shape=(8, 8, 1), num_levels=17, num_classes=10)
LINE = types.SimpleNamespace(name="line", shape=(1,), num_levels=None, num_classes=None)
PLANE = types.SimpleNamespace(name="plane", shape=(2,), num_levels=None, num_classes=None)


def config(**model):
    """A tiny GAN config: MLP players by default (fast to compile), DCGAN with arch='dcgan'."""
    c = base_config()
    c.experiment = "gan"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    arch = model.get("arch", "mlp")
    widths = dict(g_features=8, d_features=8) if arch == "dcgan" else dict(g_features=(16,), d_features=(16,))
    m = dict(arch=arch, loss="nonsaturating", latent_dim=8, d_steps=1, pack=1, conditional=False, **widths)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def digit_batches(n, b=16, seed=0):
    rng = np.random.default_rng(seed)
    return [{"x": rng.integers(0, 17, (b, 8, 8, 1)).astype(np.uint8),
             "label": rng.integers(0, 10, (b,)).astype(np.int32)} for _ in range(n)]


def adam_count(opt_state):
    return int(opt_state[0].count)


def test_discriminator_updates_use_fresh_latents_and_lower_its_loss():
    """With a frozen G (lr 0), k D-updates in one step lower D's loss on held data: D learns to separate."""
    c = config(arch="dcgan", d_norm="none", d_steps=10)   # the DCGAN players
    c.optim.learning_rate = 0.0
    c.d_optim = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-2, b1=0.5))
    exp = GANExperiment(c, DIGITS)
    b = digit_batches(1, b=64)[0]
    state = exp.init_state(jax.random.PRNGKey(1), b)
    evaluate = jax.jit(lambda s: exp.eval_step(s, b, jax.random.PRNGKey(9))["d_loss"].mean())
    before = evaluate(state)
    state, _ = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, b)
    after = evaluate(state)
    assert float(after) < float(before) - 0.1
    assert adam_count(state.opt_state["discriminator"]) == 10


@pytest.mark.parametrize("model", [
    dict(g_batch_norm=True, d_steps=2),                               # batch norm statistics over the mesh
    dict(loss="wgan_gp", d_steps=3, conditional=True, d_conditioning="projection",
         spectral_norm=True),                                         # critic with GP on labels, SN, projection
    dict(loss="hinge", pack=2),                                       # PacGAN2
])
def test_two_player_step_same_on_8_devices_as_on_1_and_k_step_schedule(model):
    assert len(jax.devices()) == 8
    exp = GANExperiment(config(**model), DIGITS)
    batches = digit_batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = sh.make_mesh(devices)
        state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batches[0]), mesh)
        step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
        g0 = state.params["generator"]
        for i, b in enumerate(batches, start=1):
            state, metrics = step(state, sh.shard_batch(b, mesh))
            # the k-step schedule: k discriminator updates and one generator update per train step
            k = exp.gan.d_steps
            assert adam_count(state.opt_state["discriminator"]) == k * i
            assert adam_count(state.opt_state["generator"]) == i
        assert int(state.step) == len(batches)
        assert not jax.tree.all(jax.tree.map(jnp.array_equal, g0, state.params["generator"]))
        results.append(jax.device_get((state.params, state.model_state, metrics)))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_nonsaturating_gan_learns_a_1d_gaussian():
    """G(z) = a z + b against data N(3, 0.5^2): the game's equilibrium has b = 3 and |a| = 0.5."""
    c = config(latent_dim=1, g_features=(), d_features=(32, 32))
    c.optim.learning_rate, c.optim.b1 = 1e-2, 0.5
    gan = GAN(c.model, (1,), None, None)
    state = gan.make_state(jax.random.PRNGKey(0), c)
    step = steps_lib.wrap_train_step(gan.train_step)

    @jax.jit
    def run(state):
        def body(s, i):
            x = 3.0 + 0.5 * jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(7), i), (128, 1))
            return step(s, {"x": x, "label": jnp.zeros(128, jnp.int32)})[0], None
        return jax.lax.scan(body, state, jnp.arange(1500))[0]

    state = run(state)
    x = gan.sample(state, gan.sample_latent(jax.random.PRNGKey(3), 4000), use_ema=False)
    assert abs(float(x.mean()) - 3.0) < 0.25
    assert abs(float(x.std()) - 0.5) < 0.25


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        GANExperiment(config(loss="wasserstein"), DIGITS)
    with pytest.raises(ValueError, match="d_norm"):
        GANExperiment(config(arch="dcgan", loss="wgan_gp"), DIGITS)   # GP with batch norm in the critic
    with pytest.raises(ValueError, match="needs a dataset with classes"):
        GANExperiment(config(conditional=True), LINE)
    with pytest.raises(ValueError, match="unknown model.arch"):
        GANExperiment(config(arch="resnet"), DIGITS)


def _read(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_resume_is_exact(tmp_path):
    from gen_jax.core import loop

    def cfg(steps):
        c = config(d_steps=2, g_batch_norm=True)   # batch-norm statistics are restored too
        c.dataset = "digits"
        c.batch_size, c.eval_batch_size = 16, 120
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.ema_decay = 0.9
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)   # "killed" after step 2 (EMA, both optimizers, D's k steps...)
    loop.train_and_evaluate(cfg(4), resumed)
    assert _read(straight) == _read(resumed)
    assert os.path.exists(straight) and any(f.endswith(".png") for _, _, fs in os.walk(straight) for f in fs)


def test_sample_grids_do_not_keep_the_experiment_alive():
    """The jitted grid function belongs to the experiment: dropping the experiment frees it (a method jitted
    with a static `self` would stay referenced from jax's global caches)."""
    import gc
    import weakref

    exp = GANExperiment(config(), PLANE)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    assert exp.visualize(state, None)["samples"].shape == (1, 128, 128, 1)
    ref = weakref.ref(exp)
    del exp
    gc.collect()
    assert ref() is None

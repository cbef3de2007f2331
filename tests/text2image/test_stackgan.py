"""StackGAN: the two-stage schedule, Stage-II consuming Stage-I's images (gradient into Stage-I only when
configured), 8 devices = 1, exact resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from tests.text2image.test_steps import TINY_ENCODER, _read, batches, config, experiment


def stack_config(**model):
    c = config("text2image")
    c.experiment = "stackgan"
    m = dict(latent_dim=4, g_features=4, d_features=4, proj_dim=4, c_dim=3, stage1_steps=1, num_blocks=1)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    c.text_encoder = ml_collections.ConfigDict(TINY_ENCODER)
    return c


def test_stage_ii_consumes_stage_i_and_gradient_reaches_it_only_when_configured():
    b = batches(1)[0]
    for finetune in (False, True):
        exp = experiment(stack_config(finetune_stage1=finetune))
        state = exp.init_state(jax.random.PRNGKey(0), b)
        h = exp.embed(state, jnp.asarray(b["caption_tokens"][:, 0]))
        z = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
        e1, e2 = jax.random.normal(jax.random.PRNGKey(2), (16, 3)), jax.random.normal(jax.random.PRNGKey(3), (16, 3))
        s0, s1, cas, _ = exp.stage_images(state.params, state.model_state, z, h, e1, e2, False)
        assert s0.shape == (16, 4, 4, 1) and s1.shape == (16, 8, 8, 1) and len(cas) == 2
        # Stage-II is a function of Stage-I's image: another Stage-I image changes its output
        (other, _, _), _ = exp._run("g2", state.params, state.model_state, False, -s0, h, e2)
        assert float(jnp.abs(other - s1).max()) > 1e-4
        g_params = {"g1": state.params["g1"], "g2": state.params["g2"]}
        grads, _ = jax.grad(exp.generator_objective, has_aux=True)(
            g_params, state.params, state.model_state, z, h, e1, e2, True)
        g1_norm = float(jax.tree_util.tree_reduce(lambda a, x: a + jnp.sum(x ** 2), grads["g1"], 0.0))
        assert (g1_norm > 0) == finetune, (finetune, g1_norm)
        assert float(jax.tree_util.tree_reduce(lambda a, x: a + jnp.sum(x ** 2), grads["g2"], 0.0)) > 0


def test_the_two_stages_update_their_own_players():
    exp = experiment(stack_config(stage1_steps=2))
    bs = batches(3)
    state = exp.init_state(jax.random.PRNGKey(0), bs[0])
    step = jax.jit(steps_lib.wrap_train_step(exp.train_step))
    counts = []
    for b in bs:
        state, m = step(state, b)
        counts.append({k: int(state.opt_state[k][0].count) for k in ("g1", "d1", "g2", "d2")})
    assert counts == [dict(g1=1, d1=1, g2=0, d2=0), dict(g1=2, d1=2, g2=0, d2=0), dict(g1=2, d1=2, g2=1, d2=1)]
    assert float(m["stage"]) == 2.0
    # finetuning: Stage-II updates Stage-I's generator as well
    exp = experiment(stack_config(stage1_steps=0, finetune_stage1=True))
    state = exp.init_state(jax.random.PRNGKey(0), bs[0])
    state, _ = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, bs[0])
    assert int(state.opt_state["g1"][0].count) == 1 and int(state.opt_state["d1"][0].count) == 0


def test_stackgan_step_same_on_8_devices_as_on_1():
    exp = experiment(stack_config(stage1_steps=1))
    bs = batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        mesh = sh.make_mesh(devices)
        state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), bs[0]), mesh)
        step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
        for b in bs:                                   # one Stage-I step, then one Stage-II step
            state, metrics = step(state, sh.shard_batch(b, mesh))
        results.append(jax.device_get((state.params, state.model_state, metrics)))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_stackgan_resume_is_exact_across_the_stage_switch(tmp_path):
    from gen_jax.core import loop

    def cfg(steps):
        c = stack_config(stage1_steps=1)
        c.batch_size = 16
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 0, 0, 1
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({})
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(2), straight)
    loop.train_and_evaluate(cfg(1), resumed)   # killed after Stage-I's step
    loop.train_and_evaluate(cfg(2), resumed)
    assert _read(straight) == _read(resumed)


def test_bad_stackgan_input_is_named():
    exp = experiment(stack_config())
    state = exp.init_state(jax.random.PRNGKey(0), None)
    with pytest.raises(ValueError, match="stage 1 or 2"):
        exp.render(state, jnp.zeros((1, 4)), jnp.zeros((1, 4)), stage=3)
    np.testing.assert_allclose(exp.downsample(jnp.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0],
                               [[2.5, 4.5], [10.5, 12.5]])

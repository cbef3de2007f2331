"""GP-GAN: the Gaussian-Poisson solver satisfies its discretised normal equations (against a dense solve),
reduces to Poisson blending at beta = 0, the pyramid keeps a well-blended image; gradients reach the generator
through the critic; 8 devices = 1; exact resume."""
import json
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data as data_lib
from gen_jax.core import loop
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.translation import gpgan


def _dense(op, h, w):
    """The matrix of a linear image operator [H, W] -> [H, W]."""
    eye = np.eye(h * w).reshape(h * w, h, w)
    return np.asarray(jax.jit(jax.vmap(op))(jnp.asarray(eye, jnp.float32)), np.float64).reshape(h * w, h * w).T


def test_divergence_of_gradients_is_the_neumann_laplacian():
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 6))
    np.testing.assert_allclose(gpgan.divergence(*gpgan.gradients(x)), gpgan.laplacian(x), atol=1e-6)
    lap = _dense(gpgan.laplacian, 4, 5)
    np.testing.assert_allclose(lap, lap.T, atol=0)                  # symmetric, rows sum to 0 (Neumann)
    np.testing.assert_allclose(lap.sum(1), 0, atol=0)


@pytest.mark.parametrize("beta", [0.7, 3.0])
def test_gp_solution_satisfies_its_normal_equations(beta):
    h, w, sigma = 7, 6, 0.8
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    u, x_l = jax.random.normal(k1, (h, w)), jax.random.uniform(k2, (h, w))
    x = gpgan.gp_solve(u, x_l, beta, sigma)
    lap, gau = gpgan.laplacian, lambda v: gpgan.gaussian_filter(v, sigma)
    residual = jax.jit(lambda x: lap(lap(x)) + beta * gau(gau(x)) - lap(u) - beta * gau(x_l))(x)
    scale = float(jnp.max(jnp.abs(lap(u)) + beta * jnp.abs(gau(x_l))))
    assert float(jnp.max(jnp.abs(residual))) < 2e-5 * scale           # float32 precision
    # the same system solved densely in float64
    L, G = _dense(lap, h, w), _dense(gau, h, w)
    rhs = L.T @ np.ravel(u) + beta * G.T @ np.ravel(x_l)
    ref = np.linalg.solve(L.T @ L + beta * G.T @ G, rhs).reshape(h, w)
    np.testing.assert_allclose(x, ref, atol=2e-5)


blend = jax.jit(gpgan.gaussian_poisson_blend, static_argnums=(4, 5))


def test_beta_zero_is_poisson_blending():
    k = jax.random.split(jax.random.PRNGKey(2), 3)
    src, dst = jax.random.uniform(k[0], (1, 8, 8, 3)), jax.random.uniform(k[1], (1, 8, 8, 3))
    mask = jnp.zeros((1, 8, 8, 1)).at[:, 2:5, 3:6].set(1.0)
    x = blend(src, dst, mask, dst, 0.0, 0.5)
    div_v = jax.jit(gpgan.guidance_divergence)(jnp.moveaxis(src, -1, 1), jnp.moveaxis(dst, -1, 1),
                                               jnp.broadcast_to(jnp.moveaxis(mask, -1, 1), (1, 3, 8, 8)))
    # Poisson's equation L x = div v (Perez et al.), with the destination's mean
    np.testing.assert_allclose(jax.jit(gpgan.laplacian)(jnp.moveaxis(x, -1, 1)), div_v, atol=1e-5)
    np.testing.assert_allclose(x.mean((1, 2)), dst.mean((1, 2)), atol=1e-6)
    # a conservative guidance field (source = destination + a constant on the mask's block) is met exactly
    shifted = dst + 0.3 * mask
    np.testing.assert_allclose(blend(shifted, dst, mask, dst, 0.0, 0.5), shifted - 0.3 * mask.mean(), atol=1e-5)
    # an empty mask gives back the destination, for any beta, when the colour constraint is its blur G dst
    g_dst = jnp.moveaxis(jax.jit(gpgan.gaussian_filter, static_argnums=1)(jnp.moveaxis(dst, -1, 1), 0.5), 1, -1)
    for beta in (0.0, 1.0):
        np.testing.assert_allclose(blend(src, dst, 0 * mask, g_dst, beta, 0.5), dst, atol=1e-5)


def config(**model):
    c = base_config()
    c.experiment, c.dataset = "gpgan", "composites"
    c.optim.learning_rate, c.optim.b1, c.optim.eps = 2e-4, 0.5, 1e-4
    m = dict(low_res=8, l2_weight=0.999, beta=1.0, sigma=0.5, critic_clip=0.01,
             generator=dict(features=4, max_features=8, bottleneck=16), critic=dict(features=4, max_features=8))
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t, s = (rng.integers(0, 256, (b, 32, 32, 3)).astype(np.uint8) for _ in range(2))
        m = rng.integers(0, 2, (b, 32, 32, 1)).astype(np.uint8)
        out.append({"composite": np.where(m == 1, s, t), "source": s, "target": t, "region": m})
    return out


def test_the_adversarial_gradient_reaches_the_generator_through_the_critic():
    exp = gpgan.GPGAN(config(l2_weight=0.0), data_lib.dataset_info("composites"))
    b = batches(1)[0]
    state = exp.init_state(jax.random.PRNGKey(0), b)
    c, _, t, _ = exp.prepare(b)
    g_loss = jax.grad(lambda p: exp.g_loss(p, state.params["critic"], c, exp.low(t))[0])
    g = jax.jit(g_loss)(state.params["generator"])
    assert float(jax.tree.reduce(lambda a, v: a + jnp.sum(jnp.abs(v)), g, 0.0)) > 0
    fake = exp.blend_low(state.params["generator"], c)
    d = jax.jit(jax.grad(lambda p: exp.critic_loss(p, exp.low(t), fake, None)[0]))(state.params["critic"])
    assert float(jax.tree.reduce(lambda a, v: a + jnp.sum(jnp.abs(v)), d, 0.0)) > 0
    np.testing.assert_allclose(gpgan.blending_generator_loss(jnp.array([2.0]), jnp.ones((1, 2)),
                                                             jnp.zeros((1, 2)), 0.75)[0], [0.75 - 0.5])


def test_gpgan_step_same_on_8_devices_as_on_1():
    exp = gpgan.GPGAN(config(), data_lib.dataset_info("composites"))
    one = steps_lib.run_train_steps(exp, batches(2), devices=jax.devices()[:1])
    eight = steps_lib.run_train_steps(exp, batches(2), devices=jax.devices())
    arrays = lambda r: (r[0].params, r[0].opt_state, r[1])
    chex.assert_trees_all_close(arrays(one), arrays(eight), rtol=2e-4, atol=2e-5)
    assert float(jnp.max(jnp.abs(jnp.asarray(jax.tree.leaves(eight[0].params["critic"])[0])))) <= 0.01 + 1e-7


def _read(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _tiny(c, steps):
    c = ml_collections.ConfigDict(c.to_dict())
    c.train_split, c.batch_size, c.eval_batch_size, c.eval_split = "train[:64]", 8, 8, "test[:16]"
    c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
    c.progress_bar = False
    c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean")})
    return c


def test_resume_is_exact(tmp_path):
    c = config()
    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(_tiny(c, 4), straight)
    loop.train_and_evaluate(_tiny(c, 2), resumed)
    loop.train_and_evaluate(_tiny(c, 4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    test = [r for r in a if r["split"] == "test"][-1]
    assert {"psnr_copy_paste", "psnr_poisson", "psnr_gp_gan", "ssim_gp_gan"} <= set(test)

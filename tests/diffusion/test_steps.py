"""The diffusion Experiment on the engine: 8 devices vs 1, one trace, exact resume, EMA for eval, image path."""
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import diffusion_digits, diffusion_ring8
from gen_jax import data as data_lib
from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.diffusion import losses
from gen_jax.diffusion.steps import DiffusionExperiment


def tiny_config(**overrides):
    c = diffusion_ring8.get_config()
    c.batch_size, c.eval_batch_size, c.num_samples = 16, 1000, 64
    c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = 20, 5, 10, 0, 10
    c.optim.schedule, c.optim.warmup_steps = "constant", 0
    c.model.hidden, c.model.num_layers, c.model.emb_dim, c.model.num_steps = 16, 1, 8, 50
    c.model.ddim_steps = 5
    c.progress_bar = False
    c.evals.samples_ddpm.num_samples = c.evals.samples_ddim50.num_samples = 200
    for k, v in overrides.items():
        c[k] = v
    return c


def _batches(n, bs=16, name="toy2d/ring8"):
    return [next(iter(data_lib.make_loader(name, "train", batch_size=bs, seed=s))) for s in range(n)]


def test_train_step_same_on_8_devices_as_on_1():
    exp = DiffusionExperiment(tiny_config(), data_lib.dataset_info("toy2d/ring8"))
    batches = _batches(3)
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, batches, devs) for devs in (jax.devices()[:1], jax.devices()))
    chex.assert_trees_all_close((s1.params, s1.ema_params, m1), (s8.params, s8.ema_params, m8), rtol=1e-5, atol=1e-6)


def test_train_step_traces_once_and_eval_uses_the_ema():
    exp = DiffusionExperiment(tiny_config(), data_lib.dataset_info("toy2d/ring8"))
    batches = _batches(4)
    mesh = sh.make_mesh(jax.devices()[:1])
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batches[0]), mesh)
    step = steps_lib.compile_train_step(chex.assert_max_traces(exp.train_step, n=1), mesh)
    for b in batches:
        state, _ = step(state, sh.shard_batch(b, mesh))
    assert int(state.step) == 4
    # the eval loss is the loss of the EMA parameters, not of the raw ones
    x = jnp.asarray(batches[0]["x"])
    key = jax.random.PRNGKey(7)
    got = exp.eval_step(state, {"x": x, "label": batches[0]["label"]}, key)["loss"]
    r_simple, _ = jax.random.split(key)
    want = losses.simple_loss(exp.denoise_fn(state.ema_params), exp.schedule, x, r_simple)
    raw = losses.simple_loss(exp.denoise_fn(state.params), exp.schedule, x, r_simple)
    chex.assert_trees_all_close(got, want, rtol=1e-5)
    assert float(jnp.abs(raw - want).max()) > 0


def test_resume_gives_exactly_the_uninterrupted_metrics(tmp_path):
    read = lambda d: [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]  # noqa: E731,E741
    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(tiny_config(num_samples=0), straight)   # no sample grids: faster
    loop.train_and_evaluate(tiny_config(num_samples=0, num_train_steps=10), resumed)
    loop.train_and_evaluate(tiny_config(num_samples=0), resumed)
    # the sample evaluators run at the end of each run, so the shorter first run adds its own records at step 10
    a, b = read(straight), [r for r in read(resumed) if not (r["step"] == 10 and r["split"].startswith("samples"))]
    assert a == b
    assert {r["split"] for r in a if r["step"] == 20} == {"train", "test", "samples_ddpm", "samples_ddim50"}


def test_conditional_guided_sampling_moves_samples_to_the_requested_mode():
    """A conditional MLP trained briefly on ring8: guided samples of class j land nearer mode j than others."""
    c = tiny_config(num_train_steps=300)
    c.model.update(conditional=True, hidden=64, num_layers=2, emb_dim=16, num_steps=50)
    exp = DiffusionExperiment(c, data_lib.dataset_info("toy2d/ring8"))
    mesh = sh.make_mesh(jax.devices()[:1])
    it = iter(data_lib.make_loader("toy2d/ring8", "train", batch_size=128, seed=0))
    first = next(it)
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), first), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh)
    for _ in range(300):
        state, _ = step(state, sh.shard_batch(next(it), mesh))
    centers, _ = data_lib.toy2d.mode_centers("ring8")
    labels = tuple(np.arange(64) % 8)
    x = np.asarray(exp.generate(state.params, jax.random.PRNGKey(1), 64, "ddim", steps=10, guidance=2.0,
                              labels=labels))
    nearest = np.argmin(((x[:, None, :] - centers[None]) ** 2).sum(-1), 1)
    assert np.mean(nearest == np.asarray(labels)) > 0.8


def test_image_path_bound_and_samplers_on_digits():
    """Images through a tiny (flattening) MLP, T = 20: one train step, the full bound equals the sum of its parts, samplers stay in [0, 1]."""
    c = diffusion_digits.get_config()
    c.optim.schedule, c.optim.warmup_steps = "constant", 0
    c.model.update(network="mlp", hidden=16, num_layers=1, emb_dim=8, schedule="cosine", num_steps=20, dropout=0.0, eval_vlb="full", ddim_steps=5)
    exp = DiffusionExperiment(c, data_lib.dataset_info("digits"))
    b = _batches(1, 8, "digits")[0]
    state = exp.init_state(jax.random.PRNGKey(0), b)
    state, m = jax.jit(exp.train_step)(state, b, jax.random.PRNGKey(1))
    assert np.isfinite(float(m["loss"]))
    out = jax.jit(exp.eval_step)(state, b, jax.random.PRNGKey(2))
    np.testing.assert_allclose(np.asarray(out["prior_nats"] + out["decoder_nats"] + out["diffusion_nats"]),
                               np.asarray(out["nll_nats"]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["nll_bpd"]), np.asarray(out["nll_nats"]) / (64 * np.log(2)),
                               rtol=1e-6)
    # an untrained network predicts eps = 0, i.e. x0_hat = x_t / sqrt(abar): the bound is finite and positive
    assert np.all(np.isfinite(np.asarray(out["nll_nats"]))) and float(out["nll_nats"].min()) > 0
    imgs = exp.visualize(state, jax.random.PRNGKey(3))
    assert set(imgs) == {"ddpm", "ddim5"}
    for v in imgs.values():
        assert v.shape == (64, 8, 8, 1) and float(v.min()) >= 0 and float(v.max()) <= 1

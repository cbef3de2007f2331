"""The engine: same result on 8 devices as on 1, no retracing, exact resume, safe checkpoints, clear errors."""
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gen_jax import data as data_lib
from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import logging as log_lib
from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.state import TrainState
from gen_jax.vae.steps import VAEExperiment
from experiments.configs import vae_digits


def tiny_vae_config(**overrides):
    c = vae_digits.get_config()
    c.batch_size, c.eval_batch_size = 16, 40
    c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = 20, 5, 10, 0, 10
    c.model.arch, c.model.hidden, c.model.latent_dim, c.model.eval_iwae_samples = "mlp", (32,), 4, 4
    c.progress_bar = False
    for k, v in overrides.items():
        c[k] = v
    return c


def read_metrics(workdir, name="metrics.jsonl"):
    return log_lib.read_metrics(os.path.join(workdir, name))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_train_step_same_on_8_devices_as_on_1(arch):
    assert len(jax.devices()) == 8, "tests/conftest.py should create 8 simulated CPU devices"
    config = tiny_vae_config()
    config.model.arch = arch
    info = data_lib.dataset_info("digits")
    exp = VAEExperiment(config, info)
    batches = [next(iter(data_lib.make_loader("digits", "train", batch_size=16, seed=s))) for s in range(3)]
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, batches, devs) for devs in (jax.devices()[:1], jax.devices()))
    # Sharded reductions add in another order: float32 round-off, not a different computation.
    chex.assert_trees_all_close(s1.params, s8.params, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(m1, m8, rtol=1e-4, atol=1e-4)
    # and the batch really was split: each device holds 2 of the 16 examples
    mesh = sh.make_mesh(jax.devices())
    xb = sh.shard_batch(batches[0], mesh)["x"]
    assert {s.data.shape[0] for s in xb.addressable_shards} == {2}


def test_train_step_compiles_once():
    config = tiny_vae_config()
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    loader = data_lib.make_loader("digits", "train", batch_size=16, seed=0)
    it = iter(loader)
    mesh = sh.make_mesh(jax.devices()[:1])
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), next(iter(loader))), mesh)
    traced = chex.assert_max_traces(exp.train_step, n=1)
    step = steps_lib.compile_train_step(traced, mesh)
    for _ in range(4):
        state, _ = step(state, sh.shard_batch(next(it), mesh))
    assert int(state.step) == 4


def test_resume_gives_exactly_the_uninterrupted_metrics(tmp_path):
    config = tiny_vae_config()
    straight = str(tmp_path / "straight")
    loop.train_and_evaluate(config, straight)

    resumed = str(tmp_path / "resumed")
    loop.train_and_evaluate(tiny_vae_config(num_train_steps=10), resumed)  # "killed" after step 10
    # A later save that died half-way leaves a temporary directory: it must never be restored.
    junk = os.path.join(resumed, "checkpoints", "15.orbax-checkpoint-tmp-1234")
    os.makedirs(os.path.join(junk, "state"))
    with open(os.path.join(junk, "state", "garbage"), "w") as f:
        f.write("half written")
    assert ckpt_lib.Checkpointer(os.path.join(resumed, "checkpoints")).latest_step() == 10
    loop.train_and_evaluate(config, resumed)
    a, b = read_metrics(straight), read_metrics(resumed)
    assert [r["step"] for r in a] == [5, 10, 10, 15, 20, 20]
    assert a == b  # bit-for-bit: same losses, same eval, same data order after the restore


def test_bad_input_errors_name_the_problem(tmp_path):
    with pytest.raises(data_lib.UnknownDatasetError, match="no_such_set"):
        loop.train_and_evaluate(tiny_vae_config(dataset="no_such_set"), str(tmp_path / "a"))
    with pytest.raises(data_lib.DatasetNotPreparedError, match=str(tmp_path / "empty")):
        loop.train_and_evaluate(tiny_vae_config(dataset="mnist", data_dir=str(tmp_path / "empty")), str(tmp_path / "b"))
    exp = VAEExperiment(tiny_vae_config(), data_lib.dataset_info("digits"))
    with pytest.raises(ValueError, match=r"\(28, 28, 1\).*\(8, 8, 1\)"):
        exp.check_batch({"x": np.zeros((4, 28, 28, 1), np.uint8), "label": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match="not divisible"):
        loop.train_and_evaluate(tiny_vae_config(batch_size=12), str(tmp_path / "c"))


@register("test_nan_at_step_3")
class NaNAtStep3(Experiment):
    """Least squares on 2-D points whose loss turns NaN at step 3: exercises the non-finite policies."""

    def init_state(self, rng, batch):
        return TrainState.create(params={"w": jnp.ones(2)}, tx=optax.sgd(0.1), rng=rng)

    def train_step(self, state, batch, rng):
        def loss_fn(p):
            loss = jnp.mean((batch["x"] @ p["w"]) ** 2)
            return jnp.where(state.step == 3, jnp.nan, loss)

        loss, g = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(g), {"loss": loss}

    def eval_step(self, state, batch, rng):
        return {"loss": (batch["x"] @ state.params["w"]) ** 2}


def nan_config(nonfinite):
    c = tiny_vae_config(experiment="test_nan_at_step_3", dataset="toy2d/ring8", nonfinite=nonfinite)
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every = 6, 1, 0, 2
    return c


def test_nonfinite_stop_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    workdir = str(tmp_path / "stop")
    with pytest.raises(steps_lib.NonFiniteError, match=r"step 4: loss=nan"):  # step 4 is the 4th update (state.step 3)
        loop.train_and_evaluate(nan_config("stop"), workdir)
    cp = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
    assert cp.latest_step() == 2  # the last good one; nothing after the NaN was written


def test_nonfinite_skip_leaves_the_state_unchanged(tmp_path):
    trainer = loop.Trainer(nan_config("skip"), str(tmp_path / "skip"))
    state = trainer.restore_or_init()
    seen = []
    for _ in range(5):
        before = jax.device_get(state.params)
        state, m = trainer.train_step(state, sh.shard_batch(trainer.next_batch(), trainer.mesh))
        seen.append((before, jax.device_get(state.params), float(m["skipped"])))
    trainer.close()
    assert [s for _, _, s in seen] == [0, 0, 0, 1, 0]
    np.testing.assert_array_equal(seen[3][0]["w"], seen[3][1]["w"])  # the NaN step changed nothing
    assert np.all(np.isfinite(seen[4][1]["w"])) and not np.array_equal(seen[4][0]["w"], seen[4][1]["w"])


def test_ema_is_a_separate_buffer_and_follows_its_recursion():
    """EMA params must not alias params (the donated step would free them twice) and obey
    ema_t = d ema_{t-1} + (1 - d) params_t."""
    d = 0.75
    config = tiny_vae_config(ema_decay=d)
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    loader = data_lib.make_loader("digits", "train", batch_size=16, seed=0)
    it = iter(loader)
    mesh = sh.make_mesh(jax.devices()[:1])
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), next(iter(loader))), mesh)
    for p, e in zip(jax.tree.leaves(state.params), jax.tree.leaves(state.ema_params)):
        assert p.unsafe_buffer_pointer() != e.unsafe_buffer_pointer()
    step = steps_lib.compile_train_step(exp.train_step, mesh)  # donating: would fail on aliased buffers
    expected = jax.device_get(state.params)
    for _ in range(3):
        state, _ = step(state, sh.shard_batch(next(it), mesh))
        params = jax.device_get(state.params)
        expected = jax.tree.map(lambda e, p: d * e + (1 - d) * p, expected, params)
    chex.assert_trees_all_close(jax.device_get(state.ema_params), expected, rtol=1e-5, atol=1e-7)
    assert state.eval_params() is state.ema_params

"""The engine's contracts beyond `{x, label}`: no inputs (an environment in the state), several loaders, extra
state fields, state sharding, whole-state checkpoints, evaluators on known values, families found by name."""
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data as data_lib
from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import experiment as exp_lib
from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from tests.core import toys
from tests.core.test_loop import read_metrics


def bandit_config(**kw):
    c = base_config()
    c.experiment, c.dataset = "test_contextual_bandit", ""
    c.model.num_envs = 16
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every, c.sample_every = 20, 5, 10, 10, 0
    c.progress_bar = False
    c.evals = ml_collections.ConfigDict({"returns": dict(kind="episode_return", num_episodes=4)})
    for k, v in kw.items():
        c[k] = v
    return c


def test_environment_experiment_sharded_state_same_on_8_devices_as_on_1():
    exp = toys.ContextualBandit(bandit_config(), None)
    batches = [{}] * 4
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, batches, d) for d in (jax.devices()[:1], jax.devices()))
    chex.assert_trees_all_close(s1.params, s8.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_equal(s1.extra, s8.extra)  # the environments took the same actions
    chex.assert_trees_all_close(m1, m8, rtol=1e-5, atol=1e-6)
    # and the environment batch really is split over the devices
    mesh = sh.make_mesh(jax.devices())
    state = exp.init_state(jax.random.PRNGKey(0), {})
    placed = sh.place_state(state, mesh, exp.state_partition(state))
    assert {s.data.shape for s in placed.extra["env"]["context"].addressable_shards} == {(2,)}
    assert {s.data.shape for s in placed.params["logits"].addressable_shards} == {(4, 3)}


def test_a_partition_that_matches_nothing_is_an_error():
    state = toys.ContextualBandit(bandit_config(), None).init_state(jax.random.PRNGKey(0), {})
    with pytest.raises(ValueError, match="extra/envs.*match no state leaf"):
        sh.state_shardings(state, sh.make_mesh(jax.devices()[:1]), {"extra/envs": jax.sharding.PartitionSpec("data")})


def test_environment_experiment_resumes_bit_exactly_with_its_environment_state(tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    loop.train_and_evaluate(bandit_config(), straight)
    loop.train_and_evaluate(bandit_config(num_train_steps=10), resumed)   # "killed" after step 10
    result = loop.train_and_evaluate(bandit_config(), resumed)
    a, b = read_metrics(straight), read_metrics(resumed)
    assert a == b
    assert [r["split"] for r in a if r["step"] == 20] == ["train", "returns"]
    # the episode counter lives in the state: after s steps of 8 env steps, 16 floor(8 s / 5) episodes ended;
    # the record of step 20 is the mean over steps 16..20
    expected = np.mean([16 * (8 * s // toys.HORIZON) for s in range(16, 21)])
    assert [r for r in a if r["split"] == "train"][-1]["episodes"] == pytest.approx(expected)
    assert set(result) >= {"returns/return_mean", "returns/stochastic_return_mean"}


def test_episode_return_evaluator_gives_the_hand_computed_return(tmp_path):
    config = bandit_config(num_train_steps=1)
    trainer = loop.Trainer(config, str(tmp_path / "w"))
    try:
        state = trainer.restore_or_init()
        logits = jnp.asarray(np.random.default_rng(3).normal(size=(toys.NUM_CONTEXTS, toys.NUM_ARMS)), jnp.float32)
        state = state.replace(params={"logits": logits})
        out = dict(trainer.evaluators["returns"].run(state, 0))
    finally:
        trainer.close()
    expected = toys.greedy_return(logits)
    assert out["return_mean"] == pytest.approx(expected, abs=1e-6)
    assert out["return_std"] == pytest.approx(0.0, abs=1e-6)
    assert out["stochastic_return_min"] <= out["stochastic_return_mean"] <= out["stochastic_return_max"]


def two_domains_config(**kw):
    c = base_config()
    c.experiment, c.dataset = "test_two_domains", "digits"
    c.batch_size, c.eval_batch_size = 16, 120
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every, c.sample_every = 20, 5, 10, 10, 0
    c.progress_bar = False
    for k, v in kw.items():
        c[k] = v
    return c


def test_two_loaders_and_an_image_pool_resume_exactly(tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    loop.train_and_evaluate(two_domains_config(), straight)
    loop.train_and_evaluate(two_domains_config(num_train_steps=10), resumed)
    loop.train_and_evaluate(two_domains_config(), resumed)
    assert read_metrics(straight) == read_metrics(resumed)
    # each loader's position is its own item in the checkpoint
    step_dir = os.path.join(resumed, "checkpoints", "20")
    assert {"data_A", "data_B", "state", "fingerprints"} <= set(os.listdir(step_dir))


def test_two_loaders_are_shuffled_independently_and_batched_by_their_own_size(tmp_path):
    trainer = loop.Trainer(two_domains_config(), str(tmp_path / "w"))
    try:
        batch = trainer.next_batch()
    finally:
        trainer.close()
    assert batch["A"]["x"].shape == (16, 8, 8, 1) and batch["B"]["x"].shape == (8, 8, 8, 1)
    # train[:700] and train[700:] of the index-ordered split: every A example precedes every B example
    assert batch["A"]["index"].max() < batch["B"]["index"].min()


def test_two_loader_step_same_on_8_devices_as_on_1():
    config = two_domains_config()
    exp = toys.TwoDomains(config, data_lib.dataset_info("digits"))
    la = data_lib.make_loader("digits", "train[:700]", batch_size=16, seed=0)
    lb = data_lib.make_loader("digits", "train[700:]", batch_size=8, seed=1)
    batches = [{"A": a, "B": b} for a, b, _ in zip(iter(la), iter(lb), range(3))]
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, batches, d) for d in (jax.devices()[:1], jax.devices()))
    chex.assert_trees_all_close(s1.params, s8.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_equal(s1.pool, s8.pool)


def test_a_checkpoint_of_another_model_names_the_first_differing_path(tmp_path):
    workdir = str(tmp_path / "w")
    loop.train_and_evaluate(bandit_config(num_train_steps=10), workdir)
    with pytest.raises(ckpt_lib.CheckpointMismatchError, match=r"'extra/env/context': saved shape \(16,\) int32, "
                                                              r"expected shape \(8,\) int32"):
        c = bandit_config(num_train_steps=20)
        c.model.num_envs = 8
        loop.train_and_evaluate(c, workdir)


class _Known(exp_lib.Experiment):
    """Sample and reconstruct hooks with known answers: samples ARE the reference images / points."""

    def init_state(self, rng, batch):
        return self.create_state({"w": jnp.zeros(())}, rng, tx=None)

    def train_step(self, state, batch, rng):
        return state, {"loss": jnp.zeros(())}

    def eval_step(self, state, batch, rng):
        return {"one": jnp.ones(batch["x"].shape[0])}

    def sample(self, state, rng, num, labels=None, **kwargs):
        ref = self.config.model.reference  # (dataset, split)
        arrays = data_lib.load_arrays(*ref)
        x = arrays["x"][:num]
        info = data_lib.dataset_info(ref[0])
        return x.astype(np.float32) / (info.num_levels - 1) if info.num_levels else x

    def reconstruct(self, state, batch, rng):
        target = batch["x"].astype(jnp.float32) / 16.0
        return {"output": jnp.where(target <= 1 - 0.125, target + 0.125, target - 0.125), "target": target}


exp_lib.register("test_known_answers")(_Known)


def known_config(dataset, evals, **model):
    c = base_config()
    c.experiment, c.dataset = "test_known_answers", dataset
    c.num_train_steps, c.eval_every, c.checkpoint_every, c.sample_every = 1, 1, 0, 0
    c.eval_batch_size, c.batch_size, c.progress_bar = 120, 8, False
    c.evals = ml_collections.ConfigDict(evals)
    for k, v in model.items():
        c.model[k] = v
    return c


def test_sample_and_reconstruction_evaluators_give_known_values(tmp_path):
    c = known_config("digits", {"samples": dict(kind="samples", num_samples=360, batch_size=360, extractor="pixels",
                                                kid_subsets=5, kid_subset_size=100),
                                "recon": dict(kind="reconstruction", split="test")},
                     reference=("digits", "test"))
    out = loop.train_and_evaluate(c, str(tmp_path / "img"))
    assert out["samples/frechet_pixels"] == pytest.approx(0.0, abs=1e-6)   # the samples are the test set
    # every pixel is off by exactly 1/8 (up, or down near the top): L1 = 1/8, PSNR = 20 log10 8
    assert out["recon/l1"] == pytest.approx(0.125, abs=1e-6)
    assert out["recon/psnr"] == pytest.approx(20 * np.log10(8.0), abs=1e-4)
    records = {r["split"]: r for r in read_metrics(str(tmp_path / "img"))}
    assert set(records) == {"train", "samples", "recon"}

    c = known_config("toy2d/ring8", {"points": dict(kind="samples", num_samples=2500, batch_size=2500, split="test")},
                     reference=("toy2d/ring8", "test"))
    out = loop.train_and_evaluate(c, str(tmp_path / "pts"))
    assert out["points/energy_distance"] == pytest.approx(0.0, abs=1e-3)  # float32 sums of 6M distances
    assert out["points/modes"] == 8 and out["points/high_quality"] > 0.98


def test_select_best_on_any_evaluator_metric(tmp_path):
    c = two_domains_config(select_best="test/sq", num_train_steps=20, eval_every=5)
    out = loop.train_and_evaluate(c, str(tmp_path / "w"))
    assert "best_step" in out and "best_test_sq" in out
    with pytest.raises(ValueError, match="names evaluator 'nope'"):
        loop.Trainer(two_domains_config(select_best="nope/sq"), str(tmp_path / "x"))


def test_families_are_found_by_name_without_a_list_in_core(monkeypatch):
    import sys

    # as in a fresh process: the family's module not imported, its name not registered
    monkeypatch.delitem(exp_lib._REGISTRY, "vae", raising=False)
    monkeypatch.delitem(sys.modules, "gen_jax.vae.steps", raising=False)
    assert exp_lib.get_experiment_class("vae").__name__ == "VAEExperiment"
    assert exp_lib.get_experiment_class("tests.core.toys:TwoDomains") is toys.TwoDomains
    with pytest.raises(ValueError, match=r"unknown experiment 'no_such_family'; registered experiments: .*vae"):
        exp_lib.get_experiment_class("no_such_family")
    assert {"vae", "gan", "autoregressive", "diffusion", "gmm", "autoencoder"} <= set(exp_lib.registered())


def test_unknown_evaluator_kind_and_setting_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown evaluator kind 'fid'"):
        loop.Trainer(known_config("digits", {"q": dict(kind="fid")}), str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"config.evals.q \(samples\): unknown settings \['num'\]"):
        loop.Trainer(known_config("digits", {"q": dict(kind="samples", num=3)}), str(tmp_path / "b"))

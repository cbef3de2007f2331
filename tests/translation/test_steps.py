"""The translation steps on the engine: 8 devices = 1 (Pix2Pix, CycleGAN with its pools), exact resume for
each Experiment (the pools, both optimizers and both loaders included), the L1-only baseline leaves D alone,
the linear learning-rate decay, and bad configs named."""
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
from gen_jax.translation import steps as tr

G_UNET = dict(arch="unet", features=4, num_downs=2, max_features=8, dropout=0.5, num_dropout=1)
G_RESNET = dict(arch="resnet", features=4, num_blocks=1)
G_ED = dict(arch="encoder_decoder", features=4, num_downs=2)
D_SMALL = dict(receptive_field=16, features=4, max_features=8)


def pix2pix_config(**model):
    c = base_config()
    c.experiment = "pix2pix"
    c.dataset = "edges2digits"
    c.optim.learning_rate, c.optim.b1, c.optim.eps = 2e-4, 0.5, 1e-4
    m = dict(source="edges", target="x", l1_weight=100.0, gan_weight=1.0, generator=G_UNET,
             discriminator=D_SMALL)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def two_domain_config(experiment="cyclegan", generator=G_RESNET, **model):
    c = base_config()
    c.experiment = experiment
    c.dataset = "mnist5k"
    c.inputs = ml_collections.ConfigDict({"A": dict(dataset="mnist5k", split="train[:64]"),
                                          "B": dict(dataset="mnist5k_inverted", split="train[64:128]")})
    c.optim.learning_rate, c.optim.b1, c.optim.eps = 2e-4, 0.5, 1e-4
    m = dict(generator=generator, discriminator=D_SMALL)
    if experiment == "cyclegan":
        m.update(cycle_weight=10.0, identity_weight=0.5, pool_size=4)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def paired_batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{"edges": rng.integers(0, 2, (b, 28, 28, 1)).astype(np.uint8),
             "x": rng.integers(0, 256, (b, 28, 28, 1)).astype(np.uint8)} for _ in range(n)]


def unpaired_batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{d: {"x": rng.integers(0, 256, (b, 28, 28, 1)).astype(np.uint8)} for d in "AB"} for _ in range(n)]


def _same_on_8_devices_as_on_1(exp, batches):
    """(Adam's eps is raised to 1e-4 in these configs: a gradient entry at rounding level, whose value depends on
    the reduction order, would otherwise become a full-size step of either sign.)"""
    assert len(jax.devices()) == 8
    one = steps_lib.run_train_steps(exp, batches, devices=jax.devices()[:1])
    eight = steps_lib.run_train_steps(exp, batches, devices=jax.devices())
    arrays = lambda r: (r[0].params, r[0].opt_state, r[0].extra, r[1])   # tx (static) holds functions
    chex.assert_trees_all_close(arrays(one), arrays(eight), rtol=2e-4, atol=2e-5)
    return eight


def test_pix2pix_step_same_on_8_devices_as_on_1():
    exp = tr.Pix2Pix(pix2pix_config(), data_lib.dataset_info("edges2digits"))
    state, metrics = _same_on_8_devices_as_on_1(exp, paired_batches(2))
    assert int(state.opt_state["discriminator"][0].count) == 2 and int(state.opt_state["generator"][0].count) == 2
    assert {"d_loss", "g_adv", "g_l1", "g_loss"} <= set(metrics)


def test_cyclegan_step_with_its_pools_same_on_8_devices_as_on_1():
    c = two_domain_config()
    exp = tr.CycleGAN(c, data_lib.dataset_info("mnist5k"))
    state, metrics = _same_on_8_devices_as_on_1(exp, unpaired_batches(2))
    # pools of 4: filled by the first batch of 8, then sampled from by the second
    assert int(state.extra["pool_A"]["count"]) == 4 and int(state.extra["pool_B"]["count"]) == 4
    assert float(jnp.abs(state.extra["pool_B"]["images"]).sum()) > 0
    assert {"cycle_a", "cycle_b", "identity_a", "identity_b", "d_a", "d_b"} <= set(metrics)


def test_l1_only_baseline_never_updates_the_discriminator():
    exp = tr.Pix2Pix(pix2pix_config(gan_weight=0.0), data_lib.dataset_info("edges2digits"))
    b = paired_batches(1)
    s0 = exp.init_state(jax.random.PRNGKey(0), b[0])
    s1, metrics = steps_lib.run_train_steps(exp, b)
    chex.assert_trees_all_equal(jax.device_get(s0.params["discriminator"]), s1.params["discriminator"])
    assert "d_loss" not in metrics
    np.testing.assert_allclose(metrics["g_loss"], 100.0 * metrics["g_l1"], rtol=1e-6)


def test_linear_decay_schedule():
    cfg = ml_collections.ConfigDict(dict(learning_rate=2e-4, num_steps=100, decay_start=60))
    s = tr.linear_decay_schedule(cfg)
    np.testing.assert_allclose([float(s(t)) for t in (0, 59, 60, 80, 100)], [2e-4, 2e-4, 2e-4, 1e-4, 0.0],
                               atol=1e-10)
    with pytest.raises(ValueError, match="decay_start < optim.num_steps"):
        tr.linear_decay_schedule(ml_collections.ConfigDict(dict(learning_rate=1.0, num_steps=10, decay_start=10)))


def _read(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _tiny_run(c, steps):
    c = ml_collections.ConfigDict(c.to_dict())
    c.batch_size, c.eval_batch_size = 8, 8
    c.eval_split = "test[:16]"
    c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
    c.progress_bar = False
    return c


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "discogan"])
def test_resume_is_exact(tmp_path, name):
    if name == "pix2pix":
        c = pix2pix_config()
        c.train_split = "train[:64]"
        c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean"), "recon": dict(kind="reconstruction")})
    else:
        c = two_domain_config(name, generator=G_RESNET if name == "cyclegan" else G_ED)
        c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean"),
                                             "cycle_ba": dict(kind="translation", direction="BA",
                                                              dataset="mnist5k_inverted")})
    if name == "cyclegan":
        c.optim.schedule, c.optim.num_steps, c.optim.decay_start = "linear_decay", 4, 1
    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(_tiny_run(c, 4), straight)
    loop.train_and_evaluate(_tiny_run(c, 2), resumed)   # "killed" after step 2: pools, optimizers, loaders
    loop.train_and_evaluate(_tiny_run(c, 4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    splits = {r["split"] for r in a}
    assert {"train", "test"} <= splits and ({"recon"} if name == "pix2pix" else {"cycle_ba"}) <= splits
    assert any(f.endswith(".png") for _, _, fs in os.walk(straight) for f in fs)


def test_translation_evaluator_scores_classifier_accuracy(tmp_path, monkeypatch):
    """A stand-in classifier that labels an image by its mean brightness: the evaluator's accuracy is the
    fraction of translations labelled with their source label, computed by hand here."""
    import flax.linen as nn

    class Bright(nn.Module):
        @nn.compact
        def __call__(self, x):
            m = jnp.mean(x, axis=(1, 2, 3))
            return jnp.stack([m < 0.5, m >= 0.5] + [jnp.zeros_like(m)] * 8, -1).astype(jnp.float32), m

    class Stub:
        module, params = Bright(), {}

        def accuracy(self, dataset, split):
            return 0.25

    monkeypatch.setattr(tr, "_classifier", lambda name, data_dir, arch: Stub())
    c = _tiny_run(two_domain_config(), 1)
    c.evals = ml_collections.ConfigDict({"fcn": dict(kind="translation", direction="AB", classifier="stub")})
    trainer = loop.Trainer(c, str(tmp_path / "w"))
    try:
        state = trainer.initial_state()
        got = dict(trainer.evaluators["fcn"].run(state, 0))
        test = data_lib.load_arrays("mnist5k", "test[:16]")
        out = trainer.experiment.translate(state, {"x": jnp.asarray(test["x"])}, None, "AB")
        want = np.mean((np.asarray(jnp.mean(out, axis=(1, 2, 3))) >= 0.5).astype(int) == test["label"])
        np.testing.assert_allclose(got["accuracy"], want, atol=1e-6)
        assert got["real_accuracy"] == 0.25 and "cycle_l1" in got and "cycle_psnr" in got
    finally:
        trainer.close()


def test_bad_configs_are_named():
    info = data_lib.dataset_info("edges2digits")
    with pytest.raises(ValueError, match="has no feature 'sketch'"):
        tr.Pix2Pix(pix2pix_config(source="sketch"), info)
    with pytest.raises(ValueError, match="not both 0"):
        tr.Pix2Pix(pix2pix_config(gan_weight=0.0, l1_weight=0.0), info)
    c = two_domain_config()
    c.inputs.B.dataset = "mnistm"
    with pytest.raises(ValueError, match="identity loss .* model.identity_weight=0"):
        tr.CycleGAN(c, data_lib.dataset_info("mnist5k"))
    with pytest.raises(ValueError, match="discogan has no pool"):
        tr.DiscoGAN(two_domain_config("discogan", generator=G_ED, pool_size=50), data_lib.dataset_info("mnist5k"))
    c = two_domain_config()
    c.inputs = ml_collections.ConfigDict({"X": dict(dataset="mnist5k")})
    with pytest.raises(ValueError, match="must name the loaders 'A' and 'B'"):
        tr.CycleGAN(c, data_lib.dataset_info("mnist5k")).inputs()

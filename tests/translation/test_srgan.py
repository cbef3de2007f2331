"""SRGAN / SRResNet (Ledig et al. 2017): the networks' shapes and skips, the losses' hand values, the
Y-channel PSNR / SSIM against scikit-image as oracle, bicubic, and the experiment on the engine (8 devices =
1, exact resume with the MSE pretraining switching to the GAN phase in between)."""
import json
import os

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import loop
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.translation import srgan

G_TINY = dict(features=4, num_blocks=1)
D_TINY = dict(features=4, num_stages=2, dense=8)


def test_srresnet_is_x4_through_two_sub_pixel_layers_and_has_a_long_skip():
    g = srgan.SRResNet(channels=3, features=4, num_blocks=2, scale=4)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 6, 3))
    v = g.init(jax.random.PRNGKey(1), x, train=False)
    y = g.apply(v, x, train=False)
    assert y.shape == (2, 20, 24, 3) and float(jnp.max(jnp.abs(y))) <= 1.0
    p = v["params"]
    assert p["up0"]["kernel"].shape[-1] == 16 and p["up1"]["kernel"].shape[-1] == 16   # 4 F before each x2 shuffle
    assert {"block0", "block1", "conv_mid", "bn_mid", "conv_in", "conv_out"} <= set(p)
    # the long skip: with the residual trunk's last BN scaled to 0, the trunk adds nothing, and the output is
    # that of conv_in -> upsampling -> conv_out alone
    cut = jax.tree_util.tree_map(lambda a: a, v)
    cut["params"]["bn_mid"] = dict(cut["params"]["bn_mid"], scale=jnp.zeros_like(p["bn_mid"]["scale"]),
                                   bias=jnp.zeros_like(p["bn_mid"]["bias"]))
    blocks = jax.tree_util.tree_map(lambda a: a * 7.0, {k: cut["params"][k] for k in ("block0", "block1")})
    cut2 = dict(cut, params=dict(cut["params"], **blocks))
    np.testing.assert_allclose(g.apply(cut, x, train=False), g.apply(cut2, x, train=False), atol=1e-6)
    with pytest.raises(ValueError, match="power of 2"):
        srgan.SRResNet(scale=3).init(jax.random.PRNGKey(0), x, train=False)


def test_discriminator_gives_one_logit_per_image():
    d = srgan.SRDiscriminator(features=4, num_stages=2, dense=8)
    x = jnp.zeros((3, 8, 8, 3))
    v = d.init(jax.random.PRNGKey(0), x, train=False)
    assert d.apply(v, x, train=False).shape == (3,)
    with pytest.raises(ValueError, match="multiple of 2"):
        d.init(jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 3)), train=False)


def test_losses_hand_values():
    sr = jnp.array([[[[0.0, 1.0]]], [[[1.0, 1.0]]]])      # [2, 1, 1, 2]
    hr = jnp.array([[[[1.0, 1.0]]], [[[1.0, -1.0]]]])
    np.testing.assert_allclose(srgan.content_mse(sr, hr), [0.5, 2.0])
    np.testing.assert_allclose(srgan.feature_content_loss(sr, sr), [0.0, 0.0])
    logits = jnp.array([0.0, 2.0])
    total, adv = srgan.srgan_generator_loss(jnp.array([1.0, 2.0]), logits, 1e-3)
    np.testing.assert_allclose(adv, [np.log(2.0), np.log1p(np.exp(-2.0))], rtol=1e-6)
    np.testing.assert_allclose(total, [1.0 + 1e-3 * np.log(2.0), 2.0 + 1e-3 * np.log1p(np.exp(-2.0))], rtol=1e-6)
    d = srgan.srgan_discriminator_loss(jnp.array([0.0]), jnp.array([0.0]))
    np.testing.assert_allclose(d, [2 * np.log(2.0)], rtol=1e-6)


def test_y_channel_psnr_and_ssim_equal_scikit_image():
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    hr = rng.uniform(size=(2, 24, 28, 3)).astype(np.float32)
    sr = np.clip(hr + rng.normal(scale=0.1, size=hr.shape), 0, 1).astype(np.float32)
    got = srgan.sr_scores(jnp.asarray(sr), jnp.asarray(hr), border=4)
    for k in range(2):
        ys = rgb2ycbcr(sr[k].astype(np.float64))[4:-4, 4:-4, 0] / 255.0
        yh = rgb2ycbcr(hr[k].astype(np.float64))[4:-4, 4:-4, 0] / 255.0
        np.testing.assert_allclose(got["psnr_y"][k], peak_signal_noise_ratio(yh, ys, data_range=1.0), rtol=1e-4)
        np.testing.assert_allclose(got["ssim_y"][k], structural_similarity(
            yh, ys, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False), atol=2e-4)


def test_bicubic_keeps_constant_images_and_linear_ramps_inside():
    const = jnp.full((1, 4, 4, 3), 0.3)
    np.testing.assert_allclose(srgan.bicubic_upsample(const, 4), 0.3, atol=1e-6)
    ramp = jnp.tile(jnp.linspace(0.1, 0.7, 8)[None, None, :, None], (1, 8, 1, 1))
    up = np.asarray(srgan.bicubic_upsample(ramp, 2))[0, 4, 4:-4, 0]
    np.testing.assert_allclose(np.diff(up), np.diff(up)[0], atol=1e-5)   # a cubic reproduces a line
    np.testing.assert_allclose(srgan.quantize(jnp.array([0.5, 1.2, -0.1])), [128 / 255, 1.0, 0.0])


class _PhotoFeaturesStub:
    """Random conv weights in the classifier's parameter layout: the step tests need no trained network."""

    @staticmethod
    def params():
        k0, k1 = jax.random.split(jax.random.PRNGKey(5))
        return {"Conv_0": {"kernel": 0.3 * jax.random.normal(k0, (3, 3, 3, 4)), "bias": jnp.zeros(4)},
                "Conv_1": {"kernel": 0.3 * jax.random.normal(k1, (3, 3, 4, 4)), "bias": jnp.zeros(4)}}


@pytest.fixture
def stub_features(monkeypatch):
    monkeypatch.setattr(srgan, "photo_features", lambda *a, **k: srgan.PhotoFeatures(_PhotoFeaturesStub.params()))


def tiny_info():
    return DatasetInfo(name="tiny_sr", features={"lr": Feature.levels((4, 4, 3), 256), "hr": Feature.levels((16, 16, 3), 256)},
                       splits={"train": 64, "test": 16})


def srgan_config(**model):
    c = base_config()
    c.experiment = "srgan"
    c.dataset = "photo_patches"
    c.optim.learning_rate, c.optim.eps = 1e-3, 1e-4
    m = dict(content="feature", adversarial_weight=1e-3, pretrain_steps=1, generator=G_TINY, discriminator=D_TINY)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def sr_batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{"lr": rng.integers(0, 256, (b, 4, 4, 3)).astype(np.uint8),
             "hr": rng.integers(0, 256, (b, 16, 16, 3)).astype(np.uint8)} for _ in range(n)]


def test_pretraining_leaves_d_alone_then_the_gan_phase_trains_it(stub_features):
    exp = srgan.SRGAN(srgan_config(pretrain_steps=2), tiny_info())
    b = sr_batches(3)
    s0 = exp.init_state(jax.random.PRNGKey(0), b[0])
    s2, m2 = steps_lib.run_train_steps(exp, b[:2])
    chex.assert_trees_all_equal(jax.device_get(s0.params["discriminator"]), s2.params["discriminator"])
    np.testing.assert_allclose(m2["g_loss"], m2["mse"], rtol=1e-6)        # MSE alone while pretraining
    s3, m3 = steps_lib.run_train_steps(exp, b)
    assert int(s3.opt_state["discriminator"][0].count) == 1
    np.testing.assert_allclose(m3["g_loss"], m3["feature"] + 1e-3 * m3["g_adv"], rtol=1e-5)


def test_srresnet_baseline_has_no_discriminator(stub_features):
    exp = srgan.SRGAN(srgan_config(adversarial_weight=0.0, content="mse"), tiny_info())
    s, m = steps_lib.run_train_steps(exp, sr_batches(1))
    assert set(s.params) == {"generator"} and "d_loss" not in m
    with pytest.raises(ValueError, match="model.content"):
        srgan.SRGAN(srgan_config(content="vgg"), tiny_info())


def test_srgan_step_same_on_8_devices_as_on_1(stub_features):
    assert len(jax.devices()) == 8
    exp = srgan.SRGAN(srgan_config(pretrain_steps=1), tiny_info())
    batches = sr_batches(2)
    one = steps_lib.run_train_steps(exp, batches, devices=jax.devices()[:1])
    eight = steps_lib.run_train_steps(exp, batches, devices=jax.devices())
    arrays = lambda r: (r[0].params, r[0].opt_state, r[0].model_state, r[1])
    chex.assert_trees_all_close(arrays(one), arrays(eight), rtol=2e-4, atol=2e-5)


def _read(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_resume_is_exact_across_the_switch_to_the_gan_phase(tmp_path, stub_features):
    c = srgan_config(pretrain_steps=2)
    c.train_split, c.eval_split = "train[:64]", "test[:16]"
    c.batch_size, c.eval_batch_size = 8, 8
    c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean"),
                                         "sr": dict(kind="super_resolution", every=-1)})

    def run(steps, workdir):
        r = ml_collections.ConfigDict(c.to_dict())
        r.num_train_steps, r.log_every, r.eval_every, r.sample_every, r.checkpoint_every = steps, 1, 2, 0, 2
        r.progress_bar = False
        loop.train_and_evaluate(r, workdir)

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    run(4, straight)
    run(2, resumed)          # "killed" at the end of pretraining: D's optimizer has not stepped yet
    run(4, resumed)
    a, b = _read(straight), _read(resumed)
    # every record of the straight run is in the resumed one (which also evaluated at its "last" step 2)
    assert [r for r in a if r["split"] == "train"] == [r for r in b if r["split"] == "train"]
    assert [r for r in a if r["step"] == 4] == [r for r in b if r["step"] == 4]
    last = [r for r in a if r.get("split") == "sr"][-1]
    assert {"psnr_y", "ssim_y", "frechet", "bicubic_psnr_y", "bicubic_ssim_y", "bicubic_frechet"} <= set(last)
    assert last["bicubic_psnr_y"] > 15

"""pix2pixHD (Wang et al. 2018): the instance boundary map and the x2 average pooling by hand, the
coarse-to-fine generator (G1 inside G2), multi-scale discriminators and their layer features, the feature
matching loss (zero for identical inputs, hand value otherwise), the segmentation scores of the FCN-score,
the global -> fixed-global -> joint schedule, 8 devices = 1 and exact resume on labels2scenes."""
import json
import os

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import loop
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data import labels2scenes
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.translation import pix2pixhd as hd

G_TINY = dict(features=4, global_downsamples=2, global_blocks=1, local_blocks=1)
D_TINY = dict(num_scales=3, features=4, receptive_field=16, max_features=8)


def test_instance_boundaries_by_hand():
    inst = jnp.array([[[0, 0, 1], [0, 0, 1], [2, 2, 2]]])
    np.testing.assert_array_equal(hd.instance_boundaries(inst)[0], [[0, 1, 1], [1, 1, 1], [1, 1, 1]])
    s = hd.label_input(jnp.zeros((1, 3, 3), jnp.int32), inst, 4)
    assert s.shape == (1, 3, 3, 5) and float(s[..., 0].sum()) == 9 and float(s[..., 1:4].sum()) == 0


def test_downsample_excludes_the_padding_from_its_means():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    y = hd.downsample(x)[0, ..., 0]
    np.testing.assert_allclose(y[0, 0], np.mean([0, 1, 4, 5]))             # a corner: 2x2 valid pixels
    np.testing.assert_allclose(y[1, 1], np.mean(np.arange(16).reshape(4, 4)[1:4, 1:4]))
    np.testing.assert_allclose(hd.downsample(jnp.full((1, 6, 6, 2), 0.7)), 0.7, rtol=1e-6)


def test_local_enhancer_contains_the_global_generator():
    g = hd.LocalEnhancer(3, **G_TINY)
    s = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 6))
    p = g.init(jax.random.PRNGKey(1), s)["params"]
    assert g.apply({"params": p}, s).shape == (2, 16, 16, 3)
    coarse = g.apply({"params": p}, s, use_local=False)
    g1 = hd.GlobalGenerator(3, 8, 2, 1)
    out, feat = g1.apply({"params": p["global"]}, hd.downsample(s))
    np.testing.assert_allclose(coarse, out, atol=1e-6)
    assert coarse.shape == (2, 8, 8, 3) and feat.shape == (2, 8, 8, 8)     # G1's last map: G2's front-end width


def test_multiscale_features_are_each_layers_activations():
    d = hd.MultiscaleDiscriminator(num_scales=3, features=4, num_layers=1, max_features=8)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 32, 3))
    p = d.init(jax.random.PRNGKey(1), x)["params"]
    feats = hd.discriminator_features(d, p, x)
    assert len(feats) == 3 and all(len(f) == 3 for f in feats)     # conv0, conv1 + norm, the logits
    assert [f[-1].shape[1] for f in feats] == [14, 6, 2]
    conv0 = nn.Conv(4, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1))).apply({"params": p["D0"]["conv0"]}, x)
    np.testing.assert_allclose(feats[0][0], nn.leaky_relu(conv0, 0.2), atol=1e-5)
    np.testing.assert_allclose(feats[2][-1], d.apply({"params": p}, x)[2], atol=1e-6)
    later = hd.discriminator_features(d, p, hd.downsample(x), first_scale=1)   # what the global phase sees
    np.testing.assert_allclose(later[1][-1], feats[2][-1], atol=1e-5)


def test_feature_matching_is_zero_for_identical_inputs_and_the_l1_mean_otherwise():
    a = [[jnp.ones((2, 2, 2, 1)), jnp.zeros((2, 2, 2))], [jnp.ones((2, 1, 1, 3)), jnp.zeros((2, 1, 1))]]
    np.testing.assert_allclose(hd.feature_matching_loss(a, a), [0.0, 0.0])
    b = [[jnp.full((2, 2, 2, 1), 3.0), jnp.ones((2, 2, 2))], [jnp.ones((2, 1, 1, 3)).at[0].set(0.0), jnp.ones((2, 1, 1))]]
    # scale 0: mean |1 - 3| = 2 for both; scale 1: mean |1 - 0| = 1 for example 0, 0 for example 1; logits ignored
    np.testing.assert_allclose(hd.feature_matching_loss(a, b), [3.0, 2.0])
    np.testing.assert_allclose(hd.multiscale_lsgan_generator_loss(b), [0.0, 0.0])
    np.testing.assert_allclose(hd.multiscale_lsgan_generator_loss(a), [2.0, 2.0])          # (0 - 1)^2 per scale
    np.testing.assert_allclose(hd.multiscale_lsgan_discriminator_loss(b, a), [0.0, 0.0])
    np.testing.assert_allclose(hd.multiscale_lsgan_discriminator_loss(a, b), [2.0, 2.0])   # 1/2 (1 + 1) x 2


def test_segmentation_scores_by_hand():
    conf = np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]])      # class 2 absent from the truth
    s = hd.segmentation_scores(conf)
    np.testing.assert_allclose(s["pixel_accuracy"], 5 / 8)
    np.testing.assert_allclose(s["class_accuracy"], (3 / 4 + 2 / 4) / 2)
    np.testing.assert_allclose(s["mean_iou"], (3 / 4 + 2 / 5) / 2)


def test_labels2scenes_follows_its_rule():
    lab, inst, off = labels2scenes.draw_scene("test", 7)
    x = labels2scenes.render("test", lab, inst, off)
    assert x.shape == (32, 32, 3) and x.dtype == np.uint8 and inst.max() >= 1
    for k in np.unique(inst):          # one class per instance
        assert len(np.unique(lab[inst == k])) == 1
    tr, te = labels2scenes.textures("train"), labels2scenes.textures("test")
    assert tr.shape == te.shape == (5, 64, 64) and not np.allclose(tr[1], te[1])   # disjoint texture halves


def tiny_info():
    return DatasetInfo(name="tiny_scenes", features={"label": Feature.classes(5, (32, 32)),
                                                     "instance": Feature.integer((32, 32)),
                                                     "x": Feature.levels((32, 32, 3), 256)},
                       splits={"train": 16, "test": 8})


def hd_config(**model):
    c = base_config()
    c.experiment = "pix2pixhd"
    c.dataset = "labels2scenes"
    c.optim.learning_rate, c.optim.b1, c.optim.eps = 2e-4, 0.5, 1e-4
    m = dict(global_steps=1, fix_global_steps=1, generator=G_TINY, discriminator=D_TINY)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def scene_batches(n, b=8):
    out = []
    for k in range(n):
        lab, inst, x = zip(*[(l, i, labels2scenes.render("train", l, i, o)) for l, i, o in
                             (labels2scenes.draw_scene("train", b * k + j) for j in range(b))])
        out.append({"label": np.stack(lab), "instance": np.stack(inst), "x": np.stack(x)})
    return out


def test_schedule_global_then_fixed_global_then_joint():
    exp = hd.Pix2PixHD(hd_config(), tiny_info())
    b = scene_batches(3)
    s0 = exp.init_state(jax.random.PRNGKey(0), b[0])
    s1, _ = steps_lib.run_train_steps(exp, b[:1])      # the global phase: G2 untouched
    chex.assert_trees_all_equal(jax.device_get(s0.params["local"]), s1.params["local"])
    assert not np.allclose(jax.device_get(s0.params["global"]["c7s1_out"]["kernel"]), s1.params["global"]["c7s1_out"]["kernel"])
    s2, _ = steps_lib.run_train_steps(exp, b[:2])      # local phase with G1 fixed
    chex.assert_trees_all_equal(s1.params["global"], s2.params["global"])
    assert int(s2.opt_state["local"][0].count) == 1
    s3, m = steps_lib.run_train_steps(exp, b)          # joint
    assert int(s3.opt_state["global"][0].count) == 2 and {"g_fm", "g_adv", "d_loss"} <= set(m)
    with pytest.raises(ValueError, match="num_scales >= 2"):
        hd.Pix2PixHD(hd_config(discriminator=dict(D_TINY, num_scales=1)), tiny_info())


def test_pix2pixhd_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = hd.Pix2PixHD(hd_config(global_steps=1, fix_global_steps=0), tiny_info())
    batches = scene_batches(2)
    one = steps_lib.run_train_steps(exp, batches, devices=jax.devices()[:1])
    eight = steps_lib.run_train_steps(exp, batches, devices=jax.devices())
    arrays = lambda r: (r[0].params, r[0].opt_state, r[1])
    chex.assert_trees_all_close(arrays(one), arrays(eight), rtol=2e-4, atol=2e-5)


def _read(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_resume_is_exact_and_the_fcn_score_runs(tmp_path, monkeypatch):
    module = hd.PixelClassifier(5, (4,))
    params = module.init(jax.random.PRNGKey(3), jnp.zeros((1, 32, 32, 3)))["params"]
    monkeypatch.setattr(hd, "pixel_classifier", lambda *a, **k: (module, params))
    c = hd_config()
    c.train_split, c.eval_split = "train[:32]", "test[:8]"
    c.batch_size, c.eval_batch_size = 8, 8
    c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean"), "fcn": dict(kind="scene_fcn", every=-1)})

    def run(steps, workdir):
        r = ml_collections.ConfigDict(c.to_dict())
        r.num_train_steps, r.log_every, r.eval_every, r.sample_every, r.checkpoint_every = steps, 1, 0, 0, 2
        r.progress_bar = False
        loop.train_and_evaluate(r, workdir)

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    run(3, straight)
    run(2, resumed)
    run(3, resumed)
    a, b = _read(straight), _read(resumed)
    assert [r for r in a if r["split"] == "train"] == [r for r in b if r["split"] == "train"]
    assert [r for r in a if r["step"] == 3] == [r for r in b if r["step"] == 3]
    fcn = [r for r in a if r["split"] == "fcn"][-1]
    assert {"pixel_accuracy", "class_accuracy", "mean_iou", "real_pixel_accuracy", "l1"} <= set(fcn)

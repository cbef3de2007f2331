"""PG2: the pose-mask L1 by hand, heat maps peak at the keypoints, the pose mask of a limb, stage II adds a
difference map to stage I's output and leaves G1 alone, the pose measure by hand, 8 devices = 1, exact resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.ganzoo import pg2
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

S, K = 16, 11
INFO = DatasetInfo("fake_figures", {"condition": Feature.levels((S, S, 3), 256), "target": Feature.levels((S, S, 3), 256),
                                    "target_keypoints": Feature.continuous((K, 2))}, {"train": 16, "test": 8})


def config(**model):
    c = base_config()
    c.experiment = "pg2"
    c.optim.learning_rate, c.optim.b1 = 1e-3, 0.5
    m = dict(stage1_steps=1, l1_weight=10.0, heat_sigma=1.5, mask_radius=2.0,
             generator=dict(features=4, num_downs=1, norm="none"),
             discriminator=dict(receptive_field=1, features=4, norm="none"))
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def figure_batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{"condition": rng.integers(0, 256, (b, S, S, 3)).astype(np.uint8),
             "target": rng.integers(0, 256, (b, S, S, 3)).astype(np.uint8),
             "target_keypoints": rng.uniform(1, S - 1, (b, K, 2)).astype(np.float32)} for _ in range(n)]


def test_pose_mask_l1_weights_exactly_the_masked_pixels():
    out = jnp.asarray([[[[0.5], [1.0]], [[0.25], [-1.0]]]])         # [1, 2, 2, 1]
    tgt = jnp.asarray([[[[0.0], [0.0]], [[0.0], [1.0]]]])
    mask = jnp.asarray([[[1.0, 0.0], [0.0, 1.0]]])
    # |d| = 0.5, 1, 0.25, 2; weights 1 + M = 2, 1, 1, 2 -> (1 + 1 + 0.25 + 4) / 4
    np.testing.assert_allclose(pg2.pose_mask_l1(out, tgt, mask), [6.25 / 4])
    np.testing.assert_allclose(pg2.pose_mask_l1(out, tgt, jnp.zeros((1, 2, 2))), [3.75 / 4])   # plain L1
    # the gradient of one pixel's error is doubled exactly where the mask is 1
    g = jax.grad(lambda o: pg2.pose_mask_l1(o, tgt, mask)[0])(out)
    np.testing.assert_allclose(g[0, ..., 0], [[0.5, 0.25], [0.25, -0.5]])
    with pytest.raises(ValueError, match="mask"):
        pg2.pose_mask_l1(out, tgt, jnp.ones((1, 3, 2)))


def test_heat_maps_peak_at_the_keypoints():
    kp = jnp.asarray([[[3.5, 7.5], [10.0, 2.0]]])               # a pixel centre and a pixel corner
    h = np.asarray(pg2.heat_maps(kp, 12, 12, sigma=1.5))
    assert h.shape == (1, 12, 12, 2)
    assert np.unravel_index(h[0, ..., 0].argmax(), (12, 12)) == (3, 7) and h[0, 3, 7, 0] == pytest.approx(1.0)
    # at a pixel corner the four pixels around it share the maximum exp(-0.5 / (2 sigma^2))
    np.testing.assert_allclose(h[0, 9:11, 1:3, 1], np.exp(-0.5 / 4.5), rtol=1e-6)
    assert h[0, ..., 1].max() == pytest.approx(np.exp(-0.5 / 4.5))
    assert h[0, 3, 9, 0] == pytest.approx(np.exp(-4.0 / 4.5))  # two pixels away


def test_pose_mask_covers_the_limbs_within_the_radius():
    kp = np.full((1, K, 2), 8.0, np.float32)
    kp[0, 1], kp[0, 2] = [4.0, 8.0], [12.0, 8.0]                  # neck above pelvis; every other keypoint there
    kp[0, 7:] = [12.0, 8.0]
    kp[0, 3:7] = [4.0, 8.0]
    kp[0, 0] = [2.0, 8.0]                                         # the head above the neck
    m = np.asarray(pg2.pose_mask(jnp.asarray(kp), 16, 16, radius=1.0))[0]
    # the vertical torso at column 8: pixel centres 7.5 and 8.5 are 0.5 away, 6.5 and 9.5 1.5 away
    assert m[5:12, 7:9].all() and not m[5:12, 6].any() and not m[5:12, 9].any()
    assert m[1:4, 7:9].all() and not m[0:14, :6].any() and not m[14:].any()


def test_stage_two_adds_a_difference_map_and_leaves_g1_alone():
    exp = pg2.PG2(config(stage1_steps=1), INFO)
    batch = figure_batches(1)[0]
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    cond, _, heat, _ = exp.prepare(batch)
    coarse, refined = exp.generate(state.params, cond, heat)
    np.testing.assert_allclose(refined - coarse, exp.difference(state.params, cond, coarse), atol=1e-6)
    step = jax.jit(steps_lib.wrap_train_step(exp.train_step))
    s1, m1 = step(state, batch)                                  # stage I: only G1 moves
    assert float(m1["stage"]) == 1.0
    chex.assert_trees_all_equal((s1.params["g2"], s1.params["discriminator"]),
                                (state.params["g2"], state.params["discriminator"]))
    assert not np.allclose(s1.params["g1"]["down0"]["kernel"], state.params["g1"]["down0"]["kernel"])
    s2, m2 = step(s1, batch)                                     # stage II: G2 and D move, G1 (and Adam) do not
    assert float(m2["stage"]) == 2.0
    chex.assert_trees_all_equal((s2.params["g1"], s2.opt_state["g1"]), (s1.params["g1"], s1.opt_state["g1"]))
    for k in ("g2", "discriminator"):
        assert not np.allclose(s2.params[k]["conv0" if k == "discriminator" else "down0"]["kernel"],
                               s1.params[k]["conv0" if k == "discriminator" else "down0"]["kernel"])
    # with train_g1_in_stage2 the gradient of L_G2 reaches G1 through Î_B1 (the step then updates it)
    cond, target, heat, mask = exp.prepare(batch)
    g = jax.grad(lambda p: exp.g2_loss(p, s1.params, cond, target, heat, mask)[0])({"g1": s1.params["g1"],
                                                                                    "g2": s1.params["g2"]})
    assert float(jnp.abs(g["g1"]["down0"]["kernel"]).max()) > 0


def test_pose_errors_by_hand():
    pal = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]], np.float64)
    tgt = np.zeros((1, 8, 8, 3))
    tgt[0, 1, 1], tgt[0, 4, 4], tgt[0, 6, 2] = pal[0, 0], pal[0, 1], pal[0, 2]   # three parts, one pixel each
    gen = np.zeros_like(tgt)
    gen[0, 1, 4], gen[0, 4, 4] = pal[0, 0], pal[0, 1]                          # head 3 px off, arms missing
    sil = (tgt.max(-1) > 0).astype(np.uint8)
    e = pg2.figure_pose_errors(gen, tgt, sil, pal, np.zeros((1, 3)))
    assert e["part_error"][0] == pytest.approx(1.5) and e["parts_missing"][0] == pytest.approx(1 / 3)
    assert e["mask_iou"][0] == pytest.approx(1 / 4)                            # 1 common of 4 pixels


def test_train_step_same_on_8_devices_as_on_1():
    exp = pg2.PG2(config(stage1_steps=1), INFO)                 # step 1 stage I, step 2 stage II
    _, (_, metrics) = assert_same_on_8_devices_as_on_1(exp, figure_batches(2))
    assert float(metrics["stage"]) == 2.0


def test_resume_is_exact_across_the_stage_switch(tmp_path):
    b = figure_batches(1, b=24)[0]
    np.savez(tmp_path / "fig.npz", **{f"{s}/{k}": v[sl] for s, sl in (("train", slice(0, 16)), ("test", slice(16, 24)))
                                      for k, v in b.items()})

    def cfg(steps):
        c = config(stage1_steps=2)
        c.dataset = f"npz:{tmp_path / 'fig.npz'}"
        c.batch_size, c.eval_batch_size = 8, 8
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        return c

    records = assert_resume_is_exact(cfg, tmp_path, steps=4, killed_at=2)
    assert [r["stage"] for r in records if "stage" in r] == [1.0, 1.0, 2.0, 2.0]
    assert any("ssim_stage2" in r for r in records)

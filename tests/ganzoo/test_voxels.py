"""3DGAN: the 3-D transposed convolution is the adjoint of the 3-D convolution, shapes, the adaptive D rule
(skipped and applied updates), the procedural shapes by hand, views, 8 devices = 1, exact resume."""
import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data import voxel_shapes as vs
from gen_jax.data.features import DatasetInfo
from gen_jax.ganzoo import voxels
from gen_jax.ganzoo.voxels import VoxelGANExperiment

INFO = DatasetInfo.of_x("fake_voxels", (8, 8, 8, 1), num_levels=2, num_classes=5, splits={"train": 32, "test": 8})


def config(**model):
    c = base_config()
    c.experiment = "3dgan"
    c.optim.learning_rate, c.optim.b1 = 2e-3, 0.5
    m = dict(latent_dim=6, g_features=2, d_features=2, d_accuracy_threshold=0.8)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def voxel_batches(n, b=8, seed=0, size=8):
    rng = np.random.default_rng(seed)
    return [{"x": (rng.uniform(size=(b, size, size, size, 1)) < 0.3).astype(np.uint8),
             "label": rng.integers(0, 5, (b,)).astype(np.int32)} for _ in range(n)]


def test_3d_transposed_conv_is_the_adjoint_of_the_3d_conv():
    """<conv_W(x), y> = <conv_transpose_W(y), x> for the generator's layer (kernel 4, stride 2, SAME) with the
    SAME kernel: flax's ConvTranspose(transpose_kernel=True) applies the transpose of Conv's linear map."""
    kx, ky, kw = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (2, 8, 8, 8, 3))
    y = jax.random.normal(ky, (2, 4, 4, 4, 5))
    w = jax.random.normal(kw, (4, 4, 4, 3, 5))
    conv = nn.Conv(5, (4, 4, 4), strides=(2, 2, 2), padding="SAME", use_bias=False)
    convt = nn.ConvTranspose(3, (4, 4, 4), strides=(2, 2, 2), padding="SAME", use_bias=False, transpose_kernel=True)
    cx = conv.apply({"params": {"kernel": w}}, x)
    ty = convt.apply({"params": {"kernel": w}}, y)
    assert cx.shape == y.shape and ty.shape == x.shape                 # 8^3 -> 4^3 and back to 8^3
    np.testing.assert_allclose(jnp.vdot(cx, y), jnp.vdot(x, ty), rtol=1e-4)
    # and it is exactly the vector-Jacobian product of the convolution
    _, vjp = jax.vjp(lambda a: conv.apply({"params": {"kernel": w}}, a), x)
    np.testing.assert_allclose(vjp(y)[0], ty, rtol=1e-4, atol=1e-4)


def test_generator_and_discriminator_shapes():
    for size, layers in ((8, 1), (16, 2)):
        g = voxels.VoxelGenerator(size, 2)
        v = g.init(jax.random.PRNGKey(0), jnp.zeros((1, 4)), train=False)
        out = g.apply(v, jnp.zeros((3, 4)), train=False)
        assert out.shape == (3, size, size, size, 1) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        convts = [k for k in v["params"] if k.startswith("ConvTranspose")]
        assert len(convts) == layers
    with pytest.raises(ValueError, match="4 \\* 2\\^k"):
        voxels.VoxelGenerator(12).init(jax.random.PRNGKey(0), jnp.zeros((1, 4)))


def test_adaptive_rule_skips_the_update_above_the_threshold():
    prev, new = {"w": jnp.zeros(3)}, {"w": jnp.ones(3)}
    kept, applied = voxels.adaptive_update(new, prev, jnp.asarray(0.85), 0.8)
    assert not bool(applied) and float(kept["w"].sum()) == 0.0
    taken, applied = voxels.adaptive_update(new, prev, jnp.asarray(0.8), 0.8)     # "not higher than 80%"
    assert bool(applied) and float(taken["w"].sum()) == 3.0
    assert float(voxels.discriminator_accuracy(jnp.asarray([1.0, -1.0]), jnp.asarray([-1.0, -2.0]))) == 0.75
    # in the step: with threshold -1 D never changes (params, Adam state, BN statistics), G still does
    exp = VoxelGANExperiment(config(d_accuracy_threshold=-1.0), INFO)
    batch = voxel_batches(1)[0]
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    new_state, m = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    assert float(m["d_updated"]) == 0.0
    chex.assert_trees_all_equal((new_state.params["discriminator"], new_state.opt_state["discriminator"],
                                 new_state.model_state["discriminator"]),
                                (state.params["discriminator"], state.opt_state["discriminator"],
                                 state.model_state["discriminator"]))
    assert not np.allclose(new_state.params["generator"]["Dense_0"]["kernel"],
                           state.params["generator"]["Dense_0"]["kernel"])
    exp2 = VoxelGANExperiment(config(d_accuracy_threshold=1.0), INFO)       # always applied
    s2, m2 = jax.jit(steps_lib.wrap_train_step(exp2.train_step))(state, batch)
    assert float(m2["d_updated"]) == 1.0
    assert not np.allclose(s2.params["discriminator"]["Dense_0"]["kernel"],
                           state.params["discriminator"]["Dense_0"]["kernel"])


def test_procedural_shapes_by_hand():
    # a sphere of radius 0.5 at the centre of a 16^3 grid fills the cells whose centre is within 0.5
    sphere = vs.voxelize(0, [0.5], np.eye(3), np.zeros(3), 16)
    c = vs.grid(16)
    np.testing.assert_array_equal(sphere, (np.linalg.norm(c, axis=-1) <= 0.5).astype(np.uint8))
    box = vs.voxelize(1, [0.5, 0.25, 1.0], np.eye(3), np.zeros(3), 8)   # cells at +-0.125 .. +-0.875
    assert box.sum() == 4 * 2 * 8
    torus = vs.voxelize(3, [0.6, 0.2], np.eye(3), np.zeros(3), 16)
    assert torus[8, 8].sum() == 0 and torus[8 + 5, 8, 7] == 1          # hole in the middle, ring at radius 0.6
    r = vs.random_rotation(np.random.default_rng(0))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    e = vs.example(7)
    assert e["label"] == 2 and e["x"].shape == (16, 16, 16, 1) and 0 < e["x"].mean() < 0.6
    np.testing.assert_array_equal(vs.example(7)["x"], e["x"])         # deterministic


def test_views_are_depth_maps():
    v = np.zeros((1, 4, 4, 4, 1), np.float32)
    v[0, 2, 1, 3] = 1.0
    img = np.asarray(voxels.views(jnp.asarray(v)))
    assert img.shape == (1, 4, 12, 1)
    assert img[0, 1, 3, 0] == pytest.approx(1 - 0.8 * 2 / 4)          # seen along x: at (y=1, z=3), depth 2
    assert img[0, 2, 4 + 3, 0] == pytest.approx(1 - 0.8 * 1 / 4)      # along y: at (x=2, z=3), depth 1
    assert img[0, 2, 8 + 1, 0] == pytest.approx(1 - 0.8 * 3 / 4)      # along z: at (x=2, y=1), depth 3
    assert (img > 0).sum() == 3


def test_train_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = VoxelGANExperiment(config(d_accuracy_threshold=1.0), INFO)
    batches = voxel_batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, metrics = steps_lib.run_train_steps(exp, batches, devices=devices)
        results.append((state.params, state.model_state, metrics))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_resume_is_exact_with_the_adaptive_rule(tmp_path):
    from gen_jax.core import loop
    from tests.gan.test_steps import _read

    b = voxel_batches(1, b=32)[0]
    np.savez(tmp_path / "vox.npz", **{"train/x": b["x"], "train/label": b["label"], "test/x": b["x"][:8],
                                      "test/label": b["label"][:8], "num_levels/x": 2, "num_classes/label": 5})

    def cfg(steps):
        c = config(d_accuracy_threshold=0.6)
        c.dataset = f"npz:{tmp_path / 'vox.npz'}"
        c.batch_size, c.eval_batch_size = 8, 8
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)
    loop.train_and_evaluate(cfg(4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    assert {r["d_updated"] for r in a if r.get("split") == "train"} <= {0.0, 1.0}

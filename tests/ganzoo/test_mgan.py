"""MGAN: the Markovian discriminator's receptive field is the configured patch (measured by gradients), the Gram
loss by hand, the extractor stays fixed, the non-adversarial baseline leaves D alone, 8 devices = 1, exact
resume."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo
from gen_jax.ganzoo import mgan
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

S = 16
INFO = DatasetInfo.of_x("fake_textures", (S, S, 1), num_levels=256, num_classes=2, splits={"train": 32, "test": 8})


def config(**model):
    c = base_config()
    c.experiment = "mgan"
    c.optim.learning_rate, c.optim.b1 = 1e-3, 0.5
    m = dict(patch=10, d_features=4, g_features=4, z_channels=2, f_features=4, f_steps=2, adv_weight=1.0,
             texture_weight=1.0, tv_weight=0.0)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def texture_arrays(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 256, (n, S, S, 1)).astype(np.uint8), "label": (np.arange(n) % 2).astype(np.int32)}


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    a = texture_arrays()
    path = tmp_path_factory.mktemp("tex") / "tex.npz"
    np.savez(path, **{"train/x": a["x"][:32], "train/label": a["label"][:32], "test/x": a["x"][32:],
                      "test/label": a["label"][32:], "num_levels/x": 256, "num_classes/label": 2})
    return f"npz:{path}"


def exp_for(npz, **model):
    c = config(**model)
    c.dataset = npz
    return mgan.MGAN(c, INFO)


@pytest.mark.parametrize("patch", [6, 10, 14])
def test_markovian_receptive_field_is_the_patch_measured_by_gradients(patch):
    cells = mgan.markovian_cells(patch)
    assert mgan.patch_receptive_field(cells) == patch and cells == (patch - 6) // 2 + 1
    f_mod, d_mod = mgan.TextureFeatures(3, 2), mgan.MarkovianDiscriminator(cells, 3)
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 40, 40, 1))
    fp = f_mod.init(jax.random.PRNGKey(1), x)["params"]
    fp = jax.tree.map(lambda w: jnp.abs(w) + 0.1, fp)        # positive weights: no ReLU is dead, no cancellation
    taps, _ = f_mod.apply({"params": fp}, x)
    dp = d_mod.init(jax.random.PRNGKey(2), taps[0])["params"]
    logits = lambda img: d_mod.apply({"params": dp}, f_mod.apply({"params": fp}, img)[0][0])
    out = logits(jnp.abs(x))
    i = out.shape[1] // 2
    g = jax.grad(lambda img: logits(img)[0, i, i])(jnp.abs(x))[0, ..., 0]
    rows, cols = np.nonzero(np.asarray(g))
    assert rows.max() - rows.min() + 1 == patch and cols.max() - cols.min() + 1 == patch
    assert (np.asarray(g)[rows.min():rows.max() + 1, cols.min():cols.max() + 1] != 0).all()
    with pytest.raises(ValueError, match="patches are"):
        mgan.markovian_cells(11)


def test_gram_loss_by_hand():
    f = jnp.asarray([1.0, 2.0]).reshape(1, 1, 2, 1)           # one channel at two positions
    np.testing.assert_allclose(mgan.gram_matrix(f), [[[2.5]]])  # (1 + 4) / 2
    h = jnp.asarray([0.0, 2.0]).reshape(1, 1, 2, 1)
    np.testing.assert_allclose(mgan.gram_loss([f], [mgan.gram_matrix(h)[0]]), [0.25])    # (2.5 - 2)^2
    two = jnp.asarray([[1.0, 0.0], [0.0, 3.0]]).reshape(1, 2, 1, 2)   # two channels, two positions
    np.testing.assert_allclose(mgan.gram_matrix(two), [[[0.5, 0.0], [0.0, 4.5]]])
    np.testing.assert_allclose(mgan.gram_loss([two, f], [jnp.zeros((2, 2)), jnp.zeros((1, 1))]),
                               [(0.25 + 20.25) / 4 + 6.25])
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, 5))
    np.testing.assert_allclose(mgan.gram_loss([x], [mgan.gram_matrix(x)]), np.zeros(3), atol=1e-12)
    # the Gram matrix ignores where a feature occurs: a permutation of the positions keeps it
    perm = x.reshape(3, 16, 5)[:, np.random.default_rng(0).permutation(16)].reshape(3, 4, 4, 5)
    np.testing.assert_allclose(mgan.gram_matrix(perm), mgan.gram_matrix(x), rtol=1e-5)


def test_step_keeps_the_extractor_and_the_baseline_keeps_d(npz):
    exp = exp_for(npz)
    batch = {"x": texture_arrays(8, seed=1)["x"]}
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    step = jax.jit(steps_lib.wrap_train_step(exp.train_step))
    new, m = step(state, batch)
    chex.assert_trees_all_equal(new.extra["f"], state.extra["f"])
    for k in ("generator", "discriminator"):
        assert not np.allclose(new.params[k]["Conv_0"]["kernel"], state.params[k]["Conv_0"]["kernel"])
    assert np.isfinite(float(m["gram_loss"])) and float(m["g_adv"]) != 0.0
    base = exp_for(npz, adv_weight=0.0)                      # the non-adversarial baseline
    new, m = jax.jit(steps_lib.wrap_train_step(base.train_step))(state, batch)
    chex.assert_trees_all_equal(new.params["discriminator"], state.params["discriminator"])
    assert float(m["g_adv"]) == 0.0 and float(m["g_loss"]) == pytest.approx(float(m["gram_loss"]))
    assert exp.sample(state, jax.random.PRNGKey(0), 2, height=24, width=32).shape == (2, 24, 32, 1)


def test_train_step_same_on_8_devices_as_on_1(npz):
    exp = exp_for(npz)
    a = texture_arrays(16, seed=2)
    assert_same_on_8_devices_as_on_1(exp, [{"x": a["x"][:8]}, {"x": a["x"][8:]}])


def test_resume_is_exact(npz, tmp_path):
    def cfg(steps):
        c = config()
        c.dataset = npz
        c.batch_size, c.eval_batch_size = 8, 8
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        return c

    records = assert_resume_is_exact(cfg, tmp_path)
    assert any("gram_loss" in r and r.get("split") == "test" for r in records)

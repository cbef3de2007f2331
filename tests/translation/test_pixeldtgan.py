"""PixelDTGAN: the domain discriminator's loss over its three kinds of pairs by hand values; the unassociated
pairs hold other examples' targets; the gradients of both discriminators reach the converter; the ablations
leave the unused discriminator untouched; 8 devices = 1; exact resume."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.data.features import DatasetInfo, Feature
from gen_jax.translation import pixeldtgan as dt
from tests.helpers import assert_resume_is_exact, assert_same_on_8_devices_as_on_1

# 16x16 pairs for the tests of the mathematics (the real 32x32 dataset only in the resume test)
TINY = DatasetInfo(name="tiny_dressed", features={"source": Feature.levels((16, 16, 3), 256),
                                                  "x": Feature.levels((16, 16, 1), 256), "index": Feature.integer()},
                   splits={"train": 64, "test": 16})


def config(**model):
    c = base_config()
    c.experiment, c.dataset = "pixeldtgan", "dressed_digits"
    c.optim.learning_rate, c.optim.b1, c.optim.eps = 2e-4, 0.5, 1e-4
    m = dict(converter=dict(features=4, max_features=8, num_downs=4),
             discriminator=dict(features=4, max_features=8))
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def batches(n, b=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{"source": rng.integers(0, 256, (b, 16, 16, 3)).astype(np.uint8),
             "x": rng.integers(0, 256, (b, 16, 16, 1)).astype(np.uint8),
             "index": rng.permutation(1000)[:b].astype(np.int32)} for _ in range(n)]


def _abs_sum(tree):
    return float(jax.tree.reduce(lambda a, v: a + jnp.sum(jnp.abs(v)), tree, 0.0))


def test_losses_by_hand():
    sp = lambda v: np.log1p(np.exp(v))                       # -log sigmoid(-v)
    a, u, f = jnp.array([2.0, -0.5]), jnp.array([-1.0, 0.3]), jnp.array([0.5, 0.0])
    want = [(sp(-2.0) + sp(-1.0) + sp(0.5)) / 3, (sp(0.5) + sp(0.3) + sp(0.0)) / 3]
    np.testing.assert_allclose(dt.domain_loss(a, u, f), want, rtol=1e-6)
    # -log D_A(s, t+) - log(1 - D_A(s, t-)) - log(1 - D_A(s, C(s))) with D = 0.9, 0.2, 0.4 directly
    logit = lambda p: np.log(p / (1 - p))
    np.testing.assert_allclose(dt.domain_loss(*(jnp.array([logit(p)]) for p in (0.9, 0.2, 0.4))),
                               [-(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3], rtol=1e-5)
    np.testing.assert_allclose(dt.real_fake_loss(jnp.array([logit(0.7)]), jnp.array([logit(0.1)])),
                               [-(np.log(0.7) + np.log(0.9)) / 2], rtol=1e-5)
    out, tgt = jnp.full((1, 2, 2, 1), 0.5), jnp.zeros((1, 2, 2, 1))
    total, rf, dom, mse = dt.converter_loss(jnp.array([logit(0.25)]), jnp.array([logit(0.5)]), out, tgt,
                                            rf_weight=1.0, domain_weight=2.0, mse_weight=4.0)
    np.testing.assert_allclose([rf[0], dom[0], mse[0]], [-np.log(0.25), -np.log(0.5), 0.25], rtol=1e-5)
    np.testing.assert_allclose(total, [-np.log(0.25) - 2 * np.log(0.5) + 1.0], rtol=1e-5)
    with pytest.raises(ValueError, match="logits differ"):
        dt.domain_loss(a, u, f[:1])


def test_unassociated_pairs_hold_other_examples_targets():
    exp = dt.PixelDTGAN(config(), TINY)
    b = batches(1)[0]
    s, t = exp.prepare(b)
    neg = dt.unassociated(t)
    idx = np.asarray(b["index"])
    for i in range(len(idx)):
        j = (i + 1) % len(idx)
        np.testing.assert_array_equal(neg[i], t[j])          # the target of another example...
        assert idx[j] != idx[i]                              # ...never its own
    # the domain discriminator's three logits are on (s, t), (s, rolled t), (s, fake): check against D_A
    state = exp.init_state(jax.random.PRNGKey(0), b)
    fake = exp.convert(state.params["converter"], s)
    p = state.params["domain"]
    a, u, f = exp.domain_logits(p, s, t, fake)
    np.testing.assert_allclose(a, exp.domain(p, s, t), rtol=1e-6)
    np.testing.assert_allclose(u, exp.domain(p, s, neg), rtol=1e-6)
    np.testing.assert_allclose(f, exp.domain(p, s, fake), rtol=1e-6)
    assert not np.allclose(a, u)
    np.testing.assert_allclose(exp.domain_d_loss(p, s, t, fake)[0], jnp.mean(dt.domain_loss(a, u, f)), rtol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        dt.unassociated(t[:1])


def test_both_discriminators_gradients_reach_the_converter():
    b = batches(1)[0]
    exp = dt.PixelDTGAN(config(), TINY)
    state = exp.init_state(jax.random.PRNGKey(0), b)
    s, t = exp.prepare(b)
    p = state.params

    @jax.jit
    def term_grads(c):    # d c_rf / d C (through D_R) and d c_domain / d C (through D_A), separately
        def term(name):
            return jax.grad(lambda c_: exp.c_loss(c_, p["real_fake"], p["domain"], s, t)[1][name])(c)

        return term("c_rf"), term("c_domain")

    g_rf, g_dom = term_grads(p["converter"])
    assert _abs_sum(g_rf) > 0 and _abs_sum(g_dom) > 0
    assert _abs_sum(jax.tree.map(lambda x, y: x - y, g_rf, g_dom)) > 0          # two different signals
    # the ablation without D_A never trains it (nor lets it reach C); D_R and C move
    abl = dt.PixelDTGAN(config(domain_weight=0.0), TINY)
    new, _ = jax.jit(steps_lib.wrap_train_step(abl.train_step))(state, b)
    for name, moved in (("domain", False), ("real_fake", True), ("converter", True)):
        assert (_abs_sum(jax.tree.map(lambda x, y: x - y, new.params[name], p[name])) > 0) == moved, name


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="not all 0"):
        dt.PixelDTGAN(config(rf_weight=0.0, domain_weight=0.0), TINY)
    with pytest.raises(ValueError, match="encoder-decoder"):
        dt.PixelDTGAN(config(converter=dict(arch="unet")), TINY)
    with pytest.raises(ValueError, match="no feature 'y'"):
        dt.PixelDTGAN(config(target="y"), TINY)


def test_step_same_on_8_devices_as_on_1():
    assert_same_on_8_devices_as_on_1(dt.PixelDTGAN(config(), TINY), batches(2))


def test_resume_is_exact(tmp_path):
    def cfg(steps):
        c = config(converter=dict(features=4, max_features=8, num_downs=5))
        c.train_split, c.batch_size, c.eval_batch_size, c.eval_split = "train[:64]", 8, 8, "test[:16]"
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"test": dict(kind="split_mean")})
        return c

    rec = [r for r in assert_resume_is_exact(cfg, tmp_path) if r.get("split") == "test"]
    assert {"rmse", "ssim", "l1"} <= set(rec[-1])

"""CoGAN: shared layers are one parameter whose gradient is the sum of both players' gradients, the layer split,
pair metrics by hand, 8 devices = 1, exact resume with two loaders and the pair evaluator."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax import data
from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.ganzoo import pairs
from gen_jax.ganzoo.models import player_params, split_shared
from gen_jax.ganzoo.steps import CoGANExperiment
from tests.gan.test_steps import _read, digit_batches

DIGITS = data.dataset_info("digits")


def config(**model):
    c = base_config()
    c.experiment = "cogan"
    c.dataset = "digits"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    c.inputs = ml_collections.ConfigDict({"A": dict(split="train[:700]"), "B": dict(split="train[700:]")})
    m = dict(arch="dcgan", loss="nonsaturating", latent_dim=4, g_features=4, d_features=4, d_norm="batch",
             feature_a="x", feature_b="x", g_private_layers=1, d_private_layers=1)
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def two_domain_batches(n, b=16):
    a, b_ = digit_batches(n, b, seed=0), digit_batches(n, b, seed=1)
    return [{"A": x, "B": {"x": 16 - y["x"], "label": y["label"]}} for x, y in zip(a, b_)]


def test_layer_split_of_the_dcgan_players():
    exp = CoGANExperiment(config(), DIGITS)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    g, d = state.params["generator"], state.params["discriminator"]
    # 8x8 DCGAN: G = Dense_0, BatchNorm_0, ConvTranspose_0, BatchNorm_1, ConvTranspose_1 (output layer)
    assert set(g["shared"]) == {"Dense_0", "BatchNorm_0", "ConvTranspose_0", "BatchNorm_1"}
    assert set(g["p1"]) == set(g["p2"]) == {"ConvTranspose_1"}
    # D = Conv_0 (input layer), Conv_1, BatchNorm_0, Dense_0 (logit)
    assert set(d["p1"]) == set(d["p2"]) == {"Conv_0"}
    assert set(d["shared"]) == {"Conv_1", "BatchNorm_0", "Dense_0"}
    assert split_shared(exp.gans["p1"].init(jax.random.PRNGKey(0))[0]["generator"], "generator", 2)[1] == (
        "BatchNorm_1", "ConvTranspose_0", "ConvTranspose_1")
    with pytest.raises(ValueError, match="private layers"):
        split_shared(g["shared"] | g["p1"], "generator", 3)


def _grads(exp, state, batch, players):
    """Gradients of the G and D losses restricted to `players` (the other player's term left out)."""
    reals = {p: exp.gans[p].preprocess(batch[d]["x"]) for p, d in zip(("p1", "p2"), "AB")}
    z = jax.random.normal(jax.random.PRNGKey(3), (16, 4))
    fakes, _ = exp.generate_pair(state.params["generator"], state.model_state["generator"], z, train=True)

    def d_loss(dp):
        tot = 0.0
        for p in players:
            tot += exp.gans[p].discriminator_loss(player_params(dp, p), state.model_state["discriminator"][p],
                                                  reals[p], fakes[p], None, jax.random.PRNGKey(0))[0]
        return tot

    def g_loss(gp):
        tot = 0.0
        for p in players:
            tot += exp.gans[p].generator_loss(player_params(gp, p), state.model_state["generator"][p],
                                              player_params(state.params["discriminator"], p),
                                              state.model_state["discriminator"][p], z, None)[0]
        return tot

    return jax.grad(d_loss)(state.params["discriminator"]), jax.grad(g_loss)(state.params["generator"])


def test_shared_layers_are_one_parameter_with_the_sum_of_both_gradients():
    exp = CoGANExperiment(config(), DIGITS)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    batch = two_domain_batches(1)[0]
    d_both, g_both = _grads(exp, state, batch, ("p1", "p2"))
    d1, g1 = _grads(exp, state, batch, ("p1",))
    d2, g2 = _grads(exp, state, batch, ("p2",))
    chex.assert_trees_all_close(g_both["shared"], jax.tree.map(jnp.add, g1["shared"], g2["shared"]), rtol=1e-5,
                                atol=1e-7)
    chex.assert_trees_all_close(d_both["shared"], jax.tree.map(jnp.add, d1["shared"], d2["shared"]), rtol=1e-5,
                                atol=1e-7)
    # both players really read it: each one alone has a non-zero gradient on the shared layers
    for g in (g1, g2, d1, d2):
        assert float(jnp.abs(g["shared"]["BatchNorm_0"]["scale"]).sum()) > 0
    # private layers get only their own player's gradient
    chex.assert_trees_all_close(g_both["p1"], g1["p1"], rtol=1e-5, atol=1e-7)
    assert float(jnp.abs(jax.tree.leaves(g1["p2"])[0]).sum()) == 0.0
    # the train step applies one update to the single shared subtree (and counts one Adam step per player)
    new, _ = jax.jit(steps_lib.wrap_train_step(exp.train_step))(state, batch)
    assert jax.tree.structure(new.params) == jax.tree.structure(state.params)
    assert not np.allclose(new.params["generator"]["shared"]["Dense_0"]["kernel"],
                           state.params["generator"]["shared"]["Dense_0"]["kernel"])


def test_pair_metrics_by_hand():
    a = np.zeros((2, 2, 2, 1), np.float32)
    a[0, 0, 0, 0] = 1.0
    b = 1.0 - a
    b[1, 1, 1, 0] = 0.5                       # one pixel of pair 1 is off by 0.5
    np.testing.assert_allclose(pairs.pixel_agreement(a, b, "invert", 0.1), [1.0, 0.75])
    m = pairs.pair_metrics(a, b, "invert", 0.1, pair_threshold=0.9)
    assert m["pixel_agreement"] == pytest.approx(0.875) and m["pair_consistency"] == 0.5
    # edges: the rule of gen_jax/data/edges2digits.py on a one-pixel "digit" is its 8-neighbour ring
    d = np.zeros((1, 5, 5, 1), np.float32)
    d[0, 2, 2, 0] = 1.0
    ring = np.zeros((1, 5, 5, 1), np.float32)
    ring[0, 1:4, 1:4, 0] = 1.0
    ring[0, 2, 2, 0] = 0.0
    np.testing.assert_array_equal(pairs.transform(d, "edges"), ring)
    np.testing.assert_allclose(pairs.pixel_agreement(d, 0.8 * ring, "edges"), [1.0])
    with pytest.raises(ValueError, match="unknown pair transform"):
        pairs.transform(d, "blur")


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="loaders 'A' and 'B'"):
        c = config()
        c.inputs = ml_collections.ConfigDict({"A": dict(split="train")})
        CoGANExperiment(c, DIGITS)
    with pytest.raises(ValueError, match="feature_b"):
        CoGANExperiment(config(feature_b="edges"), DIGITS)
    with pytest.raises(ValueError, match="dcgan"):
        CoGANExperiment(config(arch="mlp"), DIGITS)


def test_train_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = CoGANExperiment(config(), DIGITS)
    batches = two_domain_batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, metrics = steps_lib.run_train_steps(exp, batches, devices=devices)
        results.append((state.params, state.model_state, metrics))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)


def test_resume_is_exact_with_two_loaders(tmp_path):
    from gen_jax.core import loop

    def cfg(steps):
        c = config()
        c.batch_size = 16
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"pairs": dict(kind="pair_consistency", every=2, num_pairs=40,
                                                           batch_size=20, transform="invert")})
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)
    loop.train_and_evaluate(cfg(4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    rec = [r for r in a if r.get("split") == "pairs"]
    assert len(rec) == 2 and 0.0 <= rec[-1]["pixel_agreement"] <= 1.0

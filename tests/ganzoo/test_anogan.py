"""AnoGAN: its losses by hand, the latent search (decreases, deterministic), the score on a toy, the baselines,
ROC AUC against scikit-learn, the normal-only train step on 8 devices = 1, exact resume with the evaluator."""
import functools
import types

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.core import steps as steps_lib
from gen_jax.core.config import base_config
from gen_jax.gan.models import MLPDiscriminator
from gen_jax.ganzoo import anomaly, losses
from gen_jax.ganzoo.models import discriminator_features
from gen_jax.ganzoo.steps import AnoGANExperiment, latent_search, normal_only
from tests.gan.test_steps import _read, digit_batches

DIGITS = types.SimpleNamespace(name="digits", shape=(8, 8, 1), num_levels=17, num_classes=10)


def config(**model):
    c = base_config()
    c.experiment = "anogan"
    c.optim.learning_rate, c.optim.b1 = 2e-4, 0.5
    m = dict(arch="dcgan", loss="nonsaturating", latent_dim=4, g_features=4, d_features=4, conditional=False,
             normal_class=3, search_steps=5, search_lr=0.05, search_lambda=0.1, search_optimizer="adam")
    m.update(model)
    c.model = ml_collections.ConfigDict(m)
    return c


def test_losses_by_hand():
    x = jnp.asarray([[[1.0, -1.0]], [[0.5, 0.5]]])            # [2, 1, 2]
    gz = jnp.asarray([[[0.0, 1.0]], [[0.5, -0.5]]])
    np.testing.assert_allclose(losses.residual_loss(x, gz), [3.0, 1.0])
    fx, fg = jnp.asarray([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), jnp.asarray([[1.0, 0.0, 4.0], [-1.0, 1.0, 0.0]])
    np.testing.assert_allclose(losses.discrimination_loss(fx, fg), [3.0, 2.0])
    np.testing.assert_allclose(losses.anogan_loss(x, gz, fx, fg, 0.1), [0.9 * 3 + 0.1 * 3, 0.9 * 1 + 0.1 * 2],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        losses.residual_loss(x, gz[:1])
    with pytest.raises(ValueError, match="lambda"):
        losses.anogan_loss(x, gz, fx, fg, 1.5)


def test_roc_auc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    s = rng.integers(0, 6, 200).astype(float)                 # many ties
    y = rng.random(200) < 0.3 + 0.1 * s / 6
    assert anomaly.roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert anomaly.roc_auc([0.0, 1.0, 2.0], [False, False, True]) == 1.0
    with pytest.raises(ValueError, match="both classes"):
        anomaly.roc_auc([1.0, 2.0], [True, True])


def test_normal_only_cycles_the_normal_examples():
    batch = {"x": jnp.arange(6), "label": jnp.asarray([1, 3, 0, 3, 3, 2])}
    out, n = normal_only(batch, 3)
    assert int(n) == 3
    np.testing.assert_array_equal(out["x"], [1, 3, 4, 1, 3, 4])
    np.testing.assert_array_equal(out["label"], [3] * 6)


def test_discriminator_features_are_the_input_of_the_logit_layer():
    d = MLPDiscriminator(features=(5, 3))
    v = d.init(jax.random.PRNGKey(0), jnp.zeros((2, 4)), train=False)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 4))
    f, logits = discriminator_features(d, v, x)
    assert f.shape == (2, 3)
    p = v["params"]["Dense_2"]
    np.testing.assert_allclose(f @ p["kernel"][:, 0] + p["bias"][0], logits, rtol=1e-5, atol=1e-6)


def test_latent_search_decreases_its_objective_and_is_deterministic_for_a_key():
    exp = AnoGANExperiment(config(search_steps=30), DIGITS)
    state = exp.init_state(jax.random.PRNGKey(0), None)
    generate, features = exp.search_functions(state)
    x = exp.gan.preprocess(digit_batches(1)[0]["x"][0])
    z0 = jax.random.normal(jax.random.PRNGKey(5), (4,))
    search = jax.jit(lambda z: latent_search(generate, features, x, z, 30, 0.05, 0.1))
    z, values, (r, d) = search(z0)
    assert values.shape == (31,)
    assert float(values[-1]) < float(values[0])
    assert float(values[-1]) == pytest.approx(0.9 * float(r) + 0.1 * float(d), rel=1e-5)
    z2, values2, _ = search(z0)
    np.testing.assert_array_equal(values, values2)
    np.testing.assert_array_equal(z, z2)
    # the experiment's scores: deterministic per key, whatever the other queries of the batch
    xb = jnp.asarray(digit_batches(1, b=4)[0]["x"])
    keys = jax.random.split(jax.random.PRNGKey(2), 4)
    scores = jax.jit(exp.anomaly_scores)
    a = scores(state, xb, keys)
    perm = jnp.asarray([2, 0, 3, 1])
    b = scores(state, xb[perm], keys[perm])
    np.testing.assert_allclose(a["score"][perm], b["score"], rtol=1e-5)
    assert bool(jnp.all(a["score"] <= a["initial"]))


def test_score_ranks_a_planted_anomaly_above_normal_samples():
    """Normal data on the line G(z) = z * (1, 0.5) in the plane; the anomaly (0, 3) is off it. The search
    recovers each normal point's latent (score ~ 0); the anomaly keeps a residual of about its distance."""
    w = jnp.asarray([1.0, 0.5])
    d = MLPDiscriminator(features=(8,))
    dv = d.init(jax.random.PRNGKey(0), jnp.zeros((1, 2)), train=False)
    generate = lambda z: z[0] * w
    features = lambda x: discriminator_features(d, dv, x[None])[0][0]
    normal = jnp.outer(jax.random.normal(jax.random.PRNGKey(1), (20,)), w)
    queries = jnp.concatenate([normal, jnp.asarray([[0.0, 3.0]])])
    z0 = jax.random.normal(jax.random.PRNGKey(2), (21, 1))
    for opt, lr in (("adam", 0.05), ("sgd", 0.02)):
        search = functools.partial(latent_search, generate, features, num_steps=300, learning_rate=lr, lam=0.1,
                                   optimizer=opt)
        score = jax.vmap(lambda x, z, s=search: s(x, z)[1][-1])(queries, z0)
        assert float(score[-1]) > 5 * float(jnp.max(score[:-1])), opt
        assert float(jnp.max(score[:-1])) < 0.1, opt
        assert anomaly.roc_auc(score, np.arange(21) == 20) == 1.0


def test_baselines_rank_an_off_subspace_anomaly_first():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 6))
    train = rng.normal(size=(200, 2)) @ basis
    test = np.concatenate([rng.normal(size=(30, 2)) @ basis, 4.0 * np.ones((1, 6))])
    truth = np.arange(31) == 30
    scores = anomaly.baseline_scores(train, test, pca_components=2, gmm_components=2)
    for name, s in scores.items():
        assert anomaly.roc_auc(s, truth) == 1.0, name
    np.testing.assert_allclose(anomaly.pca_scores(train, test[:30], 2), 0.0, atol=1e-6)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="normal_class"):
        AnoGANExperiment(config(normal_class=10), DIGITS)
    with pytest.raises(ValueError, match="unconditional"):
        AnoGANExperiment(config(conditional=True), DIGITS)
    with pytest.raises(ValueError, match="search_optimizer"):
        AnoGANExperiment(config(search_optimizer="lbfgs"), DIGITS)


def test_train_step_same_on_8_devices_as_on_1():
    assert len(jax.devices()) == 8
    exp = AnoGANExperiment(config(d_steps=2), DIGITS)
    batches = digit_batches(2)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, metrics = steps_lib.run_train_steps(exp, batches, devices=devices)
        results.append((state.params, state.model_state, metrics))
    chex.assert_trees_all_close(results[0], results[1], rtol=2e-4, atol=2e-5)
    assert results[0][2]["normal_per_batch"] == float(np.sum(batches[1]["label"] == 3))
    # a batch without any normal example leaves the players as they were
    state = exp.init_state(jax.random.PRNGKey(0), batches[0])
    no_normal = dict(batches[0], label=np.where(batches[0]["label"] == 3, 4, batches[0]["label"]))
    new, metrics = jax.jit(exp.train_step)(state, no_normal, jax.random.PRNGKey(1))
    assert float(metrics["normal_per_batch"]) == 0.0
    chex.assert_trees_all_equal(new.params, state.params)


def test_resume_is_exact_and_the_evaluator_runs(tmp_path):
    from gen_jax.core import loop

    def cfg(steps):
        c = config()
        c.dataset = "digits"
        c.batch_size, c.eval_batch_size = 32, 120
        c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = steps, 1, 2, 0, 2
        c.progress_bar = False
        c.evals = ml_collections.ConfigDict({"anomaly": dict(kind="anomaly_auc", every=2, batch_size=20,
                                                             max_examples=40, baselines=False)})
        return c

    straight, resumed = str(tmp_path / "a"), str(tmp_path / "b")
    loop.train_and_evaluate(cfg(4), straight)
    loop.train_and_evaluate(cfg(2), resumed)
    loop.train_and_evaluate(cfg(4), resumed)
    a, b = _read(straight), _read(resumed)
    assert a == b
    rec = [r for r in a if r.get("split") == "anomaly"]
    assert rec and 0.0 <= rec[-1]["auc"] <= 1.0 and rec[-1]["num_normal"] + rec[-1]["num_anomalous"] == 40

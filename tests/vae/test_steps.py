"""gen_jax/vae/steps.py: eval bounds under the common protocol."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import data as data_lib
from gen_jax.vae.steps import VAEExperiment
from experiments.configs import vae_digits


def test_eval_iwae_bound_is_tighter_than_the_elbo():
    config = vae_digits.get_config()
    config.model.arch, config.model.eval_iwae_samples = "mlp", 100
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    batch = {k: jnp.asarray(v[:32]) for k, v in data_lib.load_arrays("digits", "test").items()}
    state = exp.init_state(jax.random.PRNGKey(0), batch)
    out = jax.jit(exp.eval_step)(state, batch, jax.random.PRNGKey(1))
    assert all(v.shape == (32,) for v in out.values())
    np.testing.assert_allclose(out["elbo"], out["reconstruction"] - out["kl"], rtol=1e-5)
    # Averaged over examples, -L_100 < -L_1 (an untrained encoder leaves a large gap to close).
    assert float(jnp.mean(out["nll_nats"])) < float(jnp.mean(out["neg_elbo_nats"]))
    np.testing.assert_allclose(out["nll_bpd"], out["nll_nats"] / (64 * math.log(2)), rtol=1e-6)


def tiny_dynamic_config(**kw):
    from tests.core.test_loop import tiny_vae_config

    c = tiny_vae_config(**kw)
    c.model.likelihood, c.model.binarize, c.model.eval_iwae_samples = "bernoulli", "dynamic", 7
    c.model.eval_iwae_chunk = 3   # chunks of 3, 3 and a short one of 1
    return c


def test_evaluation_is_one_binarization_identical_for_any_batch_size_and_device_count(tmp_path):
    """With dynamic binarization, every metric scores the same binarized copy of each test image, drawn from
    that image's own key: the figures do not depend on how the split is batched or sharded."""
    from gen_jax.core import loop

    workdir = str(tmp_path / "w")
    loop.train_and_evaluate(tiny_dynamic_config(num_train_steps=5, eval_every=0), workdir)
    results = {}
    for batch_size, devices in ((40, jax.devices()[:1]), (120, jax.devices()[:1]), (120, jax.devices())):
        c = tiny_dynamic_config(num_train_steps=5, eval_batch_size=batch_size)
        results[(batch_size, len(devices))] = loop.evaluate_checkpoint(c, workdir, devices=devices)
    first = next(iter(results.values()))
    for key, r in results.items():
        for name, value in r.items():
            np.testing.assert_allclose(value, first[name], rtol=2e-6, err_msg=f"{key} {name}")


def test_fixed_binarization_is_the_same_in_every_run_and_seed():
    config = tiny_dynamic_config()
    config.model.eval_binarize = "fixed"
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    x = jnp.asarray(data_lib.load_arrays("digits", "test")["x"][:16])
    idx = jnp.arange(16)
    a, _ = exp.prepare_eval(x, jax.random.PRNGKey(0), idx)
    b, _ = exp.prepare_eval(x, jax.random.PRNGKey(1), idx)   # another eval key (another config.seed)
    np.testing.assert_array_equal(a, b)
    c, _ = exp.prepare_eval(x[3:4], jax.random.PRNGKey(2), idx[3:4])
    np.testing.assert_array_equal(a[3:4], c)  # example 3 alone, as in a batch of one
    assert 0.05 < float(jnp.mean(a)) < 0.5 and set(np.unique(np.asarray(a))) == {0.0, 1.0}


def test_a_bfloat16_step_stays_close_to_the_float32_step():
    """Mixed precision: float32 parameters and optimizer state, bfloat16 activations. After one step from the
    same state the parameters differ by at most the stated tolerance (bfloat16 has an 8-bit mantissa)."""
    from gen_jax.core import steps as steps_lib
    from experiments.configs import vae_digits

    batches = [{k: v for k, v in b.items()} for b in
               [next(iter(data_lib.make_loader("digits", "train", batch_size=64, seed=0)))]]
    out = {}
    for dtype in ("float32", "bfloat16"):
        config = vae_digits.get_config()
        config.dtype = dtype
        state, metrics = steps_lib.run_train_steps(VAEExperiment(config, data_lib.dataset_info("digits")), batches,
                                                   jax.devices()[:1])
        assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.params))
        assert all(p.dtype in (jnp.float32, jnp.int32) for p in jax.tree.leaves(state.opt_state))
        out[dtype] = (state, metrics)
    (s32, m32), (s16, m16) = out["float32"], out["bfloat16"]
    # the loss (a sum over 64 pixels of 17-way log-softmaxes) within 1 %, the updated parameters within 1e-3
    np.testing.assert_allclose(m16["loss"], m32["loss"], rtol=1e-2)
    for a, b in zip(jax.tree.leaves(s32.params), jax.tree.leaves(s16.params)):
        np.testing.assert_allclose(b, a, atol=1e-3)


def test_a_checkpoint_is_scored_on_an_eval_only_npz_and_a_mismatched_one_is_named(tmp_path):
    """--mode=eval restores the model state only: another dataset with only a test split can be scored, and
    one whose features differ from the training features is refused in one line naming the feature."""
    import pytest

    from gen_jax.core import loop
    from gen_jax.core.logging import read_metrics

    workdir = str(tmp_path / "w")
    loop.train_and_evaluate(tiny_dynamic_config(num_train_steps=5, eval_every=0), workdir)
    test = data_lib.load_arrays("digits", "test")
    good = tmp_path / "other.npz"
    np.savez(good, **{"test/x": test["x"][:50], "test/label": test["label"][:50], "num_levels/x": 17})
    c = tiny_dynamic_config(num_train_steps=5, dataset=f"npz:{good}")
    out = loop.evaluate_checkpoint(c, workdir, overrides=[f"--config.dataset=npz:{good}"])
    (record,) = read_metrics(f"{workdir}/evaluations.jsonl")
    assert record["dataset"] == f"npz:{good}" and record["num_examples"] == 50 and record["step"] == 5
    assert record["elbo"] == out["elbo"]
    bad = tmp_path / "big.npz"
    np.savez(bad, **{"test/x": np.zeros((8, 28, 28, 1), np.uint8), "num_levels/x": 17})
    with pytest.raises(data_lib.DataShapeError, match=r"feature 'x' is \(28, 28, 1\) uint8 levels \(17\), but the "
                                                      r"model was trained on \(8, 8, 1\) uint8 levels \(17\)"):
        loop.evaluate_checkpoint(tiny_dynamic_config(num_train_steps=5, dataset=f"npz:{bad}"), workdir)

"""Two real JAX processes on loopback: the sharded step equals the single-device step, and the loop runs."""
import os
import subprocess
import sys

import jax
import numpy as np
import portpicker
import pytest

from gen_jax import data as data_lib


def tiny_config():
    from experiments.configs import vae_digits

    c = vae_digits.get_config()
    c.batch_size, c.eval_batch_size = 16, 40
    c.num_train_steps, c.log_every, c.eval_every, c.sample_every, c.checkpoint_every = 4, 2, 4, 0, 2
    c.model.arch, c.model.hidden, c.model.latent_dim, c.model.eval_iwae_samples = "mlp", (32,), 4, 4
    c.progress_bar = False
    return c


def fixed_batches():
    d = data_lib.load_arrays("digits", "train")
    return [{"x": d["x"][i * 16:(i + 1) * 16], "label": d["label"][i * 16:(i + 1) * 16]} for i in range(3)]


@pytest.mark.slow
def test_two_processes_match_one_device(tmp_path):
    from gen_jax.core import sharding as sh, steps as steps_lib
    from gen_jax.vae.steps import VAEExperiment

    port = portpicker.pick_unused_port()
    worker = os.path.join(os.path.dirname(__file__), "multihost_worker.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    procs = [subprocess.Popen([sys.executable, worker, str(port), str(i), str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=300)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-process workers did not finish in 300 s")
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]

    # The same three global batches on one device.
    config = tiny_config()
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    mesh = sh.make_mesh(jax.devices()[:1])
    batches = fixed_batches()
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batches[0]), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
    for b in batches:
        state, _ = step(state, sh.shard_batch(b, mesh))
    single = {jax.tree_util.keystr(k): np.asarray(v)
              for k, v in jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))}
    for pid in range(2):
        got = np.load(tmp_path / f"params_{pid}.npz")
        assert set(got.files) == set(single)
        for k in single:
            np.testing.assert_allclose(got[k], single[k], rtol=2e-5, atol=1e-6, err_msg=k)
    # Both processes ran the whole loop, evaluated the same numbers, and wrote one set of checkpoints.
    evals = [(tmp_path / f"eval_{pid}.txt").read_text() for pid in range(2)]
    assert evals[0] == evals[1]
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["2", "4"]
    # An eval split of uneven shards (41 examples over 2 processes) finished on both, with the same result.
    uneven = [(tmp_path / f"uneven_{pid}.txt").read_text() for pid in range(2)]
    assert uneven[0] == uneven[1] and "nan" not in uneven[0]

"""One of two processes of tests/core/test_multihost.py (run as a script, not collected by pytest).

    python tests/core/multihost_worker.py PORT PROCESS_ID OUT_DIR

Each process owns one CPU device. They join through jax.distributed on loopback (gloo collectives),
take train steps on a global batch of which each holds half, then run the full engine loop (data sharded
per process, Orbax checkpoint written by both) and save what they saw.
"""
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402


def main(port: int, pid: int, out_dir: str):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    from gen_jax import data as data_lib
    from gen_jax.core import loop, sharding as sh, steps as steps_lib
    from gen_jax.vae.steps import VAEExperiment
    from tests.core.test_multihost import fixed_batches, tiny_config

    assert jax.process_count() == 2 and jax.device_count() == 2
    config = tiny_config()
    exp = VAEExperiment(config, data_lib.dataset_info("digits"))
    mesh = sh.make_mesh()
    batches = fixed_batches()
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batches[0]), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
    half = len(batches[0]["x"]) // 2
    for b in batches:
        local = {k: v[pid * half:(pid + 1) * half] for k, v in b.items()}
        state, _ = step(state, sh.shard_batch(local, mesh))
    params = jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), state.params)
    flat = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(params)}
    np.savez(os.path.join(out_dir, f"params_{pid}.npz"), **flat)

    result = loop.train_and_evaluate(config, os.path.join(out_dir, "run"))
    with open(os.path.join(out_dir, f"eval_{pid}.txt"), "w") as f:
        f.write(repr(sorted(result.items())))

    # An eval split the processes cannot share evenly: 41 examples -> shards of 21 and 20, i.e. two batches
    # of 20 per process on process 0 and one on process 1 unless the shorter one feeds a masked batch (the
    # collective eval step would otherwise wait forever).
    trainer = loop.Trainer(config, os.path.join(out_dir, "run"))
    try:
        uneven = trainer.evaluate(trainer.restore_or_init(), "test[:41]")
    finally:
        trainer.close()
    with open(os.path.join(out_dir, f"uneven_{pid}.txt"), "w") as f:
        f.write(repr(sorted(uneven.items())))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])

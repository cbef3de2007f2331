"""The two-player GAN step: throughput on one device vs the data sharded over 8, and 5 vmapped seeds vs 1.

    python -m experiments.benchmarks.gan      # re-runs itself with 8 simulated CPU devices if needed

Times the engine-compiled step (`gen_jax.core.steps.compile_train_step` around `GANExperiment.train_step`:
k discriminator updates + 1 generator update) for three configs, on `jax.devices()[:1]` and on 8 devices,
and the seed-vmapped step of `experiments/gan_mode_coverage.py` (5 seeds in one program) against one seed.
Throughput counts real examples consumed per second. On a CPU host the simulated devices share the same
cores, so the 8-device ratio measures the overhead of the data-parallel program, not a speed-up.
"""
from __future__ import annotations


def _configs():
    from experiments.configs import gan_dcgan_digits, gan_ring8

    ring = gan_ring8.get_config()
    wgan = gan_ring8.get_config()
    wgan.model.loss, wgan.model.penalty, wgan.model.gp_weight, wgan.model.d_steps = "wgan_gp", "gp", 0.1, 5
    dc = gan_dcgan_digits.get_config()
    return [("ring8 MLP non-saturating, k=1", ring), ("ring8 MLP WGAN-GP, k=5", wgan),
            ("digits DCGAN non-saturating, k=1", dc)]


def _batch(info, b, rng):
    import numpy as np

    if len(info.shape) == 3:
        x = rng.integers(0, info.num_levels, (b,) + tuple(info.shape)).astype(np.uint8)
    else:
        x = rng.standard_normal((b, 2)).astype(np.float32)
    return {"x": x, "label": rng.integers(0, info.num_classes or 1, (b,)).astype(np.int32)}


def _bench_step(name, config, devices):
    import jax
    import numpy as np

    from experiments.benchmarks.common import time_compiled
    from gen_jax import data as data_lib
    from gen_jax.core import sharding as sh
    from gen_jax.core import steps as steps_lib
    from gen_jax.gan.steps import GANExperiment

    info = data_lib.dataset_info(config.dataset)
    exp = GANExperiment(config, info)
    b = config.batch_size
    batch = _batch(info, b, np.random.default_rng(0))
    mesh = sh.make_mesh(devices)
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batch), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
    compile_s, sec, _ = time_compiled(step, state, sh.shard_batch(batch, mesh), iters=30)
    return dict(config=name, devices=len(devices), batch=b, steps_per_s=1 / sec, examples_per_s=b / sec,
                compile_s=compile_s)


def _bench_seeds(num_seeds):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from experiments.benchmarks.common import time_compiled
    from experiments.configs import gan_ring8
    from gen_jax.core.steps import wrap_train_step
    from gen_jax.gan.steps import GAN

    c = gan_ring8.get_config()
    gan = GAN(c.model, (2,), None, 8)
    step = wrap_train_step(gan.train_step, "skip")
    states = jax.vmap(lambda k: gan.make_state(k, c))(jax.random.split(jax.random.PRNGKey(0), num_seeds))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((num_seeds, c.batch_size, 2)), jnp.float32)
    batch = {"x": x, "label": jnp.zeros((num_seeds, c.batch_size), jnp.int32)}
    fn = jax.jit(jax.vmap(step))
    compile_s, sec, _ = time_compiled(fn, states, batch, iters=50)
    return dict(config=f"ring8 MLP, {num_seeds} seed(s) vmapped", devices=1, batch=c.batch_size,
                steps_per_s=1 / sec, seed_steps_per_s=num_seeds / sec, compile_s=compile_s)


def main():
    import jax

    from experiments.benchmarks.common import rerun_with_devices

    if rerun_with_devices("experiments.benchmarks.gan"):
        return
    from experiments.benchmarks.common import print_table

    devs = jax.devices()
    rows = []
    for name, cfg in _configs():
        one = _bench_step(name, cfg, devs[:1])
        many = _bench_step(name, cfg, devs[:8])
        many["ratio_vs_1"] = many["examples_per_s"] / one["examples_per_s"]
        rows += [one, many]
    print(f"Two-player GAN step (k D updates + 1 G update) on {devs[0].platform} ({len(devs)} devices visible)")
    print_table(rows, ["config", "devices", "batch", "steps_per_s", "examples_per_s", "ratio_vs_1", "compile_s"])
    one, five = _bench_seeds(1), _bench_seeds(5)
    five["ratio_vs_1"] = five["seed_steps_per_s"] / one["seed_steps_per_s"]
    print("\nSeeds as an axis: the mode-coverage program (jax.vmap over seeds) vs a single seed")
    print_table([one, five], ["config", "steps_per_s", "seed_steps_per_s", "ratio_vs_1", "compile_s"])


if __name__ == "__main__":
    main()

"""VAE train step: throughput (examples/s), compile time and peak memory on the local devices, in float32 and
with bfloat16 activations (config.dtype; float32 parameters and optimizer state). On a CPU, bfloat16 has no
fast path and is expected to be slower; the row is there for accelerators (TPU matrix units, GPU tensor
cores), where the same config runs unchanged."""
from __future__ import annotations

import jax

from experiments.benchmarks.common import memory_mb, peak_rss_mb, print_table, time_compiled
from experiments.configs import vae_digits
from gen_jax import data as data_lib
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.vae.steps import VAEExperiment


def bench(arch: str, batch_size: int, devices, dtype: str = "float32"):
    config = vae_digits.get_config()
    config.model.arch = arch
    config.batch_size = batch_size
    config.dtype = dtype
    info = data_lib.dataset_info("digits")
    exp = VAEExperiment(config, info)
    batch = next(iter(data_lib.make_loader("digits", "train", batch_size=batch_size, seed=0)))
    mesh = sh.make_mesh(devices)
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batch), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
    compile_s, sec, compiled = time_compiled(step, state, sh.shard_batch(batch, mesh), iters=50)
    return dict(model=f"vae-{arch}", dtype=dtype, devices=len(devices), batch=batch_size, examples_per_s=batch_size / sec,
                ms_per_step=1e3 * sec, compile_s=compile_s, step_mem_mb=memory_mb(compiled))


def main():
    rows = []
    devs = jax.devices()
    for arch in ("mlp", "conv"):
        for b in (64, 256):
            rows.append(bench(arch, b, devs[:1]))
            if len(devs) > 1:
                rows.append(bench(arch, b, devs))
        rows.append(bench(arch, 256, devs[:1], dtype="bfloat16"))
    print_table(rows, ["model", "dtype", "devices", "batch", "examples_per_s", "ms_per_step", "compile_s",
                       "step_mem_mb"])
    print(f"peak host RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

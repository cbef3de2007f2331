"""Autoregressive models: training throughput per model, and sampling time per image, naive vs cached.

    python -m experiments.benchmarks.autoregressive          # or: python -m experiments.bench --only autoregressive

Training: the digits configs (8x8, 17 levels, batch 64) through the engine's compiled train step, one device.
Sampling: models of the digits sizes with random weights (the cost does not depend on the weights) drawing
a batch of images at 8x8 (17 levels) and at 28x28 (256 levels, the MNIST size); time per image excludes
compilation (the minimum of 3 timed runs). The naive sampler runs the whole network once per sub-pixel (H W C passes); the cached sampler
(Ramachandran et al. 2017) computes each layer only at the pixel being drawn. Both give the same images.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from experiments.benchmarks.common import print_table, time_compiled
from experiments.configs import ar_digits
from gen_jax import data as data_lib
from gen_jax.autoregressive import models, sampling
from gen_jax.autoregressive.steps import AutoregressiveExperiment
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib

NAMES = ("pixelcnn", "gated_pixelcnn", "pixelcnn_pp", "row_lstm", "diagonal_bilstm")


def bench_train(name: str, devices, iters: int = 20):
    config = ar_digits.get_config(name)
    info = data_lib.dataset_info("digits")
    exp = AutoregressiveExperiment(config, info)
    batch = next(iter(data_lib.make_loader("digits", "train", batch_size=config.batch_size, seed=0)))
    mesh = sh.make_mesh(devices)
    state = sh.replicate(exp.init_state(jax.random.PRNGKey(0), batch), mesh)
    step = steps_lib.compile_train_step(exp.train_step, mesh, donate=False)
    compile_s, sec, _ = time_compiled(step, state, sh.shard_batch(batch, mesh), iters=iters)
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(state.params))
    return dict(model=name, params=n_params, batch=config.batch_size, examples_per_s=config.batch_size / sec,
                ms_per_step=1e3 * sec, compile_s=compile_s)


def time_sampler(name: str, size: int, num_levels: int, cached: bool, num: int = 4, repeats: int = 3):
    cfg = ar_digits.get_config(name).model
    model = models.make_model(name, num_levels=num_levels, head=cfg.head, num_mixtures=cfg.num_mixtures,
                              **dict(cfg.kwargs))
    shape = (size, size, 1)
    params = models.init_params(model, jax.random.PRNGKey(0), np.zeros((1,) + shape, np.float32))

    def run(seed):
        return sampling.sample(model, params, jax.random.PRNGKey(seed), num, shape, num_levels, head=cfg.head,
                               num_mixtures=cfg.num_mixtures, cached=cached)

    t0 = time.perf_counter()
    first = jax.block_until_ready(run(0))
    compile_and_run = time.perf_counter() - t0
    times = []
    for _ in range(repeats):                 # the minimum over repeats: the machine is shared and noisy
        t0 = time.perf_counter()
        second = jax.block_until_ready(run(0))
        times.append(time.perf_counter() - t0)
        assert np.array_equal(first, second)
    sec = min(times)
    return sec / num, compile_and_run - times[0], np.asarray(second)


def main():
    devs = jax.devices()
    rows = [bench_train(n, devs[:1]) for n in NAMES]
    print("Training step (digits configs, 1 device):")
    print_table(rows, ["model", "params", "batch", "examples_per_s", "ms_per_step", "compile_s"])

    rows = []
    for size, k in ((8, 17), (28, 256)):
        for name in NAMES:
            naive, naive_c, x_naive = time_sampler(name, size, k, cached=False)
            row = dict(model=name, image=f"{size}x{size}x1", levels=k, naive_s_per_image=naive,
                       naive_compile_s=naive_c)
            if name in models.CACHED_MODELS:
                cached, cached_c, x_cached = time_sampler(name, size, k, cached=True)
                row.update(cached_s_per_image=cached, cached_compile_s=cached_c, speedup=naive / cached,
                           identical=bool(np.array_equal(x_naive, x_cached)))
            rows.append(row)
    print("\nSampling time per image (batch of 4, random weights, compile excluded, min of 3 runs):")
    print_table(rows, ["model", "image", "levels", "naive_s_per_image", "cached_s_per_image", "speedup",
                       "identical", "naive_compile_s", "cached_compile_s"])


if __name__ == "__main__":
    main()

"""Diffusion sampling throughput: samples/s for ancestral DDPM (all T steps) and DDIM with 50 and 10 steps.

    python -m experiments.benchmarks.diffusion            # or: python -m experiments.bench --only diffusion

Each sampler is one `lax.scan` over its steps, compiled once and timed over a few calls after warm-up, with
freshly initialised networks (throughput does not depend on the weights): the digits U-Net of
experiments/configs/diffusion_digits.py (8x8x1, T = 1000) and the 2-D MLP of diffusion_ring8.py. The last
column is the speed-up over DDPM measured in the same run; it should be close to T / steps, since the network
dominates the cost of a step.
"""
from __future__ import annotations

import jax

from experiments.benchmarks.common import print_table, time_compiled
from experiments.configs import diffusion_digits, diffusion_ring8
from gen_jax import data as data_lib
from gen_jax.diffusion.steps import DiffusionExperiment


def bench(config, batch: int, iters: int):
    info = data_lib.dataset_info(config.dataset)
    exp = DiffusionExperiment(config, info)
    example = next(iter(data_lib.make_loader(config.dataset, "train", batch_size=8, seed=0)))
    params = exp.init_state(jax.random.PRNGKey(0), example).params
    rows, base = [], None
    for sampler, steps in (("ddpm", exp.schedule.num_steps), ("ddim", 50), ("ddim", 10)):
        fn = lambda p, k, s=sampler, n=steps: exp._sample(p, k, batch, s, n, 0.0, 0.0, None)  # noqa: E731
        compile_s, sec, _ = time_compiled(fn, params, jax.random.PRNGKey(1), warmup=1, iters=iters)
        base = base or sec
        rows.append(dict(model=f"{config.model.network} {config.dataset}", sampler=sampler, steps=steps,
                         batch=batch, samples_per_s=batch / sec, s_per_batch=sec, compile_s=compile_s,
                         speedup_vs_ddpm=base / sec))
    return rows


def main():
    rows = bench(diffusion_digits.get_config(), batch=64, iters=2)
    rows += bench(diffusion_ring8.get_config(), batch=2500, iters=2)
    print_table(rows, ["model", "sampler", "steps", "batch", "samples_per_s", "s_per_batch", "compile_s",
                       "speedup_vs_ddpm"])


if __name__ == "__main__":
    main()

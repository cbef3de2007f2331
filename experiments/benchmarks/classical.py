"""EM for Gaussian mixtures: iterations per second with the data sharded over 8 (simulated) devices vs one.

    python -m experiments.benchmarks.classical      # re-runs itself with 8 simulated CPU devices if needed

It times `gen_jax.classical.gmm.fit`'s compiled EM loop (a `lax.while_loop`, tol < 0 so that it runs exactly
`iters` iterations) on synthetic data, once with the rows sharded over all devices (NamedSharding on a 'data'
mesh axis, sums all-reduced by GSPMD) and once on `jax.devices()[:1]`, in the same process. On a CPU host the
"devices" share the same cores, so the ratio measures the overhead of the data-parallel program, not a speed-up.
"""
from __future__ import annotations

import time


def _bench(n, d, k, ct, devices, iters=50):
    import jax
    import numpy as np

    from gen_jax.classical import gmm

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, d)) + rng.integers(0, 4, size=(n, 1)) * 3.0).astype(np.float32)
    mesh = jax.sharding.Mesh(np.array(devices), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    init = gmm.initialize(jax.random.key(0), jax.numpy.asarray(x), k, ct, kmeans_iters=0)
    run = lambda: gmm.fit(x, init=init, covariance_type=ct, tol=-1.0, max_iter=iters, mesh=mesh)  # noqa: E731
    t0 = time.perf_counter()
    jax.block_until_ready(run())  # compile + first run
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    g, info = run()
    jax.block_until_ready(g)
    sec = time.perf_counter() - t0
    assert int(info.num_iters) == iters
    return dict(data=f"N={n} D={d} K={k} {ct}", devices=len(devices), em_iters_per_s=iters / sec,
                ms_per_iter=1e3 * sec / iters, compile_and_first_s=first)


def main():
    import jax

    from experiments.benchmarks.common import rerun_with_devices

    if rerun_with_devices("experiments.benchmarks.classical"):
        return
    from experiments.benchmarks.common import print_table

    devs = jax.devices()
    rows = []
    for n, d, k, ct in ((16384, 16, 8, "full"), (65536, 8, 8, "diag")):
        one = _bench(n, d, k, ct, devs[:1])
        many = _bench(n, d, k, ct, devs[:8])
        many["speedup_vs_1"] = many["em_iters_per_s"] / one["em_iters_per_s"]
        rows += [one, many]
    print(f"EM iterations/s on {devs[0].platform} ({len(devs)} devices visible)")
    print_table(rows, ["data", "devices", "em_iters_per_s", "ms_per_iter", "speedup_vs_1", "compile_and_first_s"])


if __name__ == "__main__":
    main()

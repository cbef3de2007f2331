"""Benchmarks: each family's module in experiments/benchmarks/ prints its own table.

    python -m experiments.bench                     # every family, on the local devices
    python -m experiments.bench --only vae,gan      # some of them
    python -m experiments.bench --devices 8         # simulate 8 CPU devices (sets XLA_FLAGS before JAX loads)

Benchmarks are measurements, not tests: report ratios taken in one run; absolute times on a shared machine
are noise.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated family modules (default: all)")
    parser.add_argument("--devices", type=int, default=0, help="simulate this many CPU devices")
    args = parser.parse_args(argv)
    if args.devices:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={args.devices}").strip()
    import experiments.benchmarks as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__))
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            sys.exit(f"unknown benchmark(s) {unknown}; available: {names}")
        names = wanted
    import jax

    print(f"# gen_jax benchmarks on {jax.device_count()} x {jax.devices()[0].platform} "
          f"({jax.devices()[0].device_kind}), jax {jax.__version__}")
    for name in names:
        t0 = time.time()
        print(f"\n## {name}")
        importlib.import_module(f"experiments.benchmarks.{name}").main()
        print(f"({name}: {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()

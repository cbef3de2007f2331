"""Helpers shared by the benchmark modules: timing a compiled step and formatting a table."""
from __future__ import annotations

import resource
import time
from typing import Dict, List

import jax


def time_compiled(fn, *args, warmup: int = 2, iters: int = 20):
    """Compile time (lower + compile) and mean seconds per call of jitted `fn` after warm-up.

    Each call is waited for before the next: independent executions of one program with collectives,
    queued at once, can deadlock XLA's in-process CPU communicator when simulated devices outnumber cores
    (a real train loop chains steps through the state, so it never queues them).
    """
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile() if not hasattr(fn, "lower") else fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    t0 = time.perf_counter()
    for _ in range(iters):
        jax.block_until_ready(compiled(*args))
    return compile_s, (time.perf_counter() - t0) / iters, compiled


def memory_mb(compiled) -> float:
    """XLA's static estimate of the compiled program's peak device memory (arguments+outputs+temporaries)."""
    m = compiled.memory_analysis()
    if m is None:
        return float("nan")
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
    return total / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(rows: List[Dict], columns: List[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("| " + " | ".join(c.ljust(widths[c]) for c in columns) + " |")
    print("|" + "|".join("-" * (widths[c] + 2) for c in columns) + "|")
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns) + " |")


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def rerun_with_devices(module: str, n: int = 8) -> bool:
    """Re-runs `python -m module` in a child with `n` simulated CPU devices when fewer are visible.

    XLA_FLAGS only takes effect before JAX starts, so a benchmark that compares n devices with one calls
    this first and returns at once when it answers True (the child printed the table).
    """
    import os
    import subprocess
    import sys

    if jax.device_count() >= n or os.environ.get("GEN_JAX_BENCH_CHILD") == "1":
        return False
    flag = f"--xla_force_host_platform_device_count={n}"
    env = dict(os.environ, GEN_JAX_BENCH_CHILD="1", JAX_PLATFORMS="cpu",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flag).strip())
    print(f"(only {jax.device_count()} device(s) here: re-running with XLA_FLAGS={flag})")
    out = subprocess.run([sys.executable, "-m", module], env=env, check=True, capture_output=True, text=True)
    print(out.stdout, end="")
    return True

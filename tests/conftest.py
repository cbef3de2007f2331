"""Test-session setup.

Eight simulated CPU devices are created before JAX is imported anywhere, so every test can compare a
computation sharded over 8 devices with the same computation on one (``jax.devices()[:1]``).
"""
import os

_flag = "--xla_force_host_platform_device_count=8"
if _flag not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# A persistent compilation cache: the resume tests run the same experiment two or three times and the
# multi-process tests start fresh interpreters; each finds the programs an earlier run compiled (the cache
# key is the program, the compile options and the jax/jaxlib versions, so a hit is the same executable).
# Trace counts (chex.assert_max_traces) are unaffected: tracing happens before the cache is consulted.
import tempfile  # noqa: E402

os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "gen_jax_test_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

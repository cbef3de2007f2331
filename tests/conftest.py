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

"""Mixed precision: float32 parameters and optimizer state, activations in the config's compute dtype.

`config.dtype` is 'float32' (the default: every cast is the identity) or 'bfloat16' (the accelerators' fast
type: TPU matrix units, GPU tensor cores). A family applies its networks to `policy.cast(params)` and
`policy.cast(inputs)` and returns `policy.output(outputs)` to its losses, which stay in float32 (log-softmax,
log-sum-exp and the sums over pixels are where bfloat16's 8-bit mantissa would cost accuracy). The
gradient of a cast is the cast back, so gradients arrive in float32 and the optimizer never sees bfloat16:

    policy = get_policy(config)
    def loss_fn(params):
        out = policy.output(model.apply({"params": policy.cast(params)}, policy.cast(x)))
        return jnp.mean(per_example_loss(out, x))

Integer and boolean leaves (labels, levels, PRNG keys) are never cast.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def _cast_floats(tree, dtype):
    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != dtype:
            return jnp.asarray(x).astype(dtype)
        return x

    return jax.tree.map(cast, tree)


@dataclasses.dataclass(frozen=True)
class Policy:
    """Casts between the stored dtype (float32) and the compute dtype."""

    compute_dtype: object = jnp.float32

    @property
    def is_mixed(self) -> bool:
        return self.compute_dtype != jnp.float32

    def cast(self, tree):
        """Float leaves -> the compute dtype (params, inputs, batch statistics before a network call)."""
        return _cast_floats(tree, self.compute_dtype) if self.is_mixed else tree

    def output(self, tree):
        """Float leaves -> float32 (network outputs before a loss; updated batch statistics before storing)."""
        return _cast_floats(tree, jnp.float32) if self.is_mixed else tree


def get_policy(config_or_name) -> Policy:
    """The policy of `config.dtype` (or of a dtype name); 'float32' when the config does not set one."""
    name = config_or_name if isinstance(config_or_name, str) else (config_or_name.get("dtype", None) or "float32")
    if name not in DTYPES:
        raise ValueError(f"config.dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return Policy(DTYPES[name])

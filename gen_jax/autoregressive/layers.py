"""Pieces shared by the autoregressive model files: input scaling, head sizes, initialization, a row cache."""
from __future__ import annotations

import jax.numpy as jnp
import flax.linen as nn

from gen_jax.autoregressive import losses

# LeCun-normal (fan-in) initialization with an untruncated normal: as good for these models, and much
# cheaper for XLA to compile than the truncated normal (it matters for CPU tests of deep models).
_KERNEL_INIT = nn.initializers.variance_scaling(1.0, "fan_in", "normal")


def scale_input(x, num_levels: int):
    """Integer levels 0..K-1 -> floats in [-1, 1] (the network input)."""
    return 2.0 * x.astype(jnp.float32) / (num_levels - 1) - 1.0



def _out_features(head, data_channels, num_levels, num_mixtures):
    if head == "categorical":
        return data_channels * num_levels
    if head == "logistic_mixture":
        if num_mixtures < 1:
            raise ValueError("the logistic_mixture head needs num_mixtures >= 1")
        return losses.logistic_mixture_num_params(data_channels, num_mixtures)
    raise ValueError(f"unknown head {head!r}; expected one of {losses.HEADS}")



def _check_input(x, data_channels):
    if x.ndim != 4 or x.shape[-1] != data_channels:
        raise ValueError(f"expected images [N, H, W, {data_channels}], got shape {x.shape}")


class _RowCache(nn.Module):
    """A cache slot holding one row of a map (the vertical-to-horizontal link of the Gated PixelCNN)."""

    @nn.compact
    def __call__(self, value=None, shape=None):
        var = self.variable("cache", "row", jnp.zeros, shape, jnp.float32)
        if value is not None:
            var.value = value
        return var.value


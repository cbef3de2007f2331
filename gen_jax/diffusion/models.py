"""Denoising networks of the diffusion family (Flax linen; no training logic).

Every network is called as ``model.apply(params, x_t, t, y=None, train=False, rngs=...)`` and returns an array
shaped like ``x_t``, read as eps, x_0 or v by `schedules.predict_x0_eps`.

* `MLPDenoiser`: for points in R^D (the 2-D toy densities). The sinusoidal time embedding (and optional class
  embedding) is projected into every hidden layer as a bias, the usual design for low-dimensional diffusion.
* `gen_jax.nn.unet.UNet`: for images (re-exported here).
"""
from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.nn.embeddings import TimeEmbedding
from gen_jax.nn.unet import UNet

__all__ = ["MLPDenoiser", "UNet", "make_model", "init_params"]


class MLPDenoiser(nn.Module):
    """x [B, ...], t [B] (labels [B]) -> same shape as x: residual MLP on the flattened input, with a time embedding added to each layer."""

    hidden: int = 128
    num_layers: int = 3
    emb_dim: int = 64
    num_classes: Optional[int] = None

    @nn.compact
    def __call__(self, x, t, y=None, train: bool = False):
        del train
        if x.ndim < 2:
            raise ValueError(f"MLPDenoiser expects a batch [B, ...], got shape {x.shape}")
        shape = x.shape
        x = x.reshape(shape[0], -1)   # images are flattened: a baseline, and a cheap network for tests
        emb = TimeEmbedding(self.emb_dim, self.hidden)(t)
        if self.num_classes is not None:
            if y is None:
                raise ValueError("MLPDenoiser: class-conditional model needs labels y")
            emb = emb + nn.Embed(self.num_classes + 1, self.hidden)(y)
        h = nn.Dense(self.hidden)(x)
        for _ in range(self.num_layers):
            h = h + nn.Dense(self.hidden)(nn.swish(h + nn.Dense(self.hidden)(nn.swish(emb))))
        return nn.Dense(x.shape[-1], kernel_init=nn.initializers.zeros)(nn.swish(h)).reshape(shape)


def make_model(cfg, num_classes: Optional[int] = None) -> nn.Module:
    """The network named by cfg.network ('mlp' | 'unet'); class conditioning when cfg.conditional is True."""
    name = cfg.get("network", "unet")
    nc = num_classes if cfg.get("conditional", False) else None
    if cfg.get("conditional", False) and not num_classes:
        raise ValueError("model.conditional=True needs a dataset with classes")
    if name == "mlp":
        return MLPDenoiser(hidden=cfg.get("hidden", 128), num_layers=cfg.get("num_layers", 3),
                           emb_dim=cfg.get("emb_dim", 64), num_classes=nc)
    if name == "unet":
        return UNet(ch=cfg.get("ch", 32), ch_mult=tuple(cfg.get("ch_mult", (1, 2))),
                    num_res_blocks=cfg.get("num_res_blocks", 1),
                    attn_resolutions=tuple(cfg.get("attn_resolutions", (4,))),
                    num_heads=cfg.get("num_heads", 1), dropout=cfg.get("dropout", 0.0),
                    groups=cfg.get("groups", 8), num_classes=nc)
    raise ValueError(f"unknown diffusion network {name!r}; expected 'mlp' or 'unet'")


def init_params(model: nn.Module, rng, *args, **kwargs):
    """`jax.jit(model.init)` with the initialisation key turned into an 'rbg' key.

    A U-Net has ~130 parameter arrays, each drawn with its own threefry call; with
    `jax_threefry_partitionable` on (as in our tests) XLA on CPU takes tens of seconds to compile those. The
    'rbg' generator (XLA's RngBitGenerator) compiles ~5x faster. The key is derived deterministically from
    `rng`, so initialisation stays a pure function of the run's seed.
    """
    key = jax.random.wrap_key_data(jax.random.bits(rng, (4,), jnp.uint32), impl="rbg")
    return jax.jit(model.init, static_argnames=tuple(kwargs))(key, *args, **kwargs)

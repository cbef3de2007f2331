"""A U-Net for denoising images, in the form of the DDPM network (Ho et al. 2020, Appendix B; itself a
PixelCNN++-style Wide-ResNet U-Net), small enough to train on 8x8 digits on a CPU.

* Residual blocks: GroupNorm -> swish -> 3x3 conv, plus a projection of the (time [+ class]) embedding added
  as a per-channel bias, GroupNorm -> swish -> dropout -> 3x3 conv (zero-initialised), and a skip connection.
* Self-attention (single head by default, no positional encoding) at the resolutions listed in
  `attn_resolutions` and always in the middle block: it is permutation-equivariant over pixels.
* Sinusoidal time embedding (`gen_jax.nn.embeddings`), optionally plus a learned class embedding with one
  extra "null" class (index `num_classes`) for classifier-free guidance (Ho & Salimans 2021).
* The output convolution is zero-initialised, so a fresh network predicts 0 (the mean of eps).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gen_jax.nn.embeddings import TimeEmbedding


def _groups(channels: int, max_groups: int) -> int:
    return math.gcd(channels, max_groups)


class ResBlock(nn.Module):
    """Pre-activation residual block conditioned on an embedding vector."""

    out_ch: int
    groups: int = 8
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, emb, train: bool = False):
        h = nn.swish(nn.GroupNorm(num_groups=_groups(x.shape[-1], self.groups))(x))
        h = nn.Conv(self.out_ch, (3, 3))(h)
        h = h + nn.Dense(self.out_ch)(nn.swish(emb))[:, None, None, :]
        h = nn.swish(nn.GroupNorm(num_groups=_groups(self.out_ch, self.groups))(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train or self.dropout == 0.0)
        h = nn.Conv(self.out_ch, (3, 3), kernel_init=nn.initializers.zeros)(h)
        if x.shape[-1] != self.out_ch:
            x = nn.Conv(self.out_ch, (1, 1))(x)
        return x + h


class AttnBlock(nn.Module):
    """Multi-head self-attention over all H*W positions with a residual connection (zero-initialised output)."""

    num_heads: int = 1
    groups: int = 8

    @nn.compact
    def __call__(self, x):
        b, hh, ww, c = x.shape
        if c % self.num_heads:
            raise ValueError(f"AttnBlock: {c} channels do not split into {self.num_heads} heads")
        d = c // self.num_heads
        h = nn.GroupNorm(num_groups=_groups(c, self.groups))(x).reshape(b, hh * ww, c)
        qkv = nn.Dense(3 * c)(h).reshape(b, hh * ww, 3, self.num_heads, d)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d)
        weights = nn.softmax(logits, axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, hh * ww, c)
        out = nn.Dense(c, kernel_init=nn.initializers.zeros)(out)
        return x + out.reshape(b, hh, ww, c)


class UNet(nn.Module):
    """DDPM-style U-Net: x [B, H, W, C], t [B] (and labels [B]) -> output [B, H, W, out_ch or C].

    Attributes:
      ch: base channel count; level i has ch * ch_mult[i] channels.
      ch_mult: channel multipliers; len(ch_mult) - 1 downsamplings by 2 (H and W must divide 2**that).
      num_res_blocks: residual blocks per level on the way down (one more on the way up, as in DDPM).
      attn_resolutions: spatial sizes (H) at which self-attention follows each residual block.
      num_classes: None for an unconditional model; otherwise labels in 0..num_classes, where num_classes is
        the null class used for classifier-free guidance.
    """

    ch: int = 32
    ch_mult: Sequence[int] = (1, 2)
    num_res_blocks: int = 1
    attn_resolutions: Sequence[int] = (4,)
    num_heads: int = 1
    dropout: float = 0.0
    groups: int = 8
    num_classes: Optional[int] = None
    out_ch: Optional[int] = None

    @nn.compact
    def __call__(self, x, t, y=None, train: bool = False):
        if x.ndim != 4:
            raise ValueError(f"UNet expects images [B, H, W, C], got shape {x.shape}")
        factor = 2 ** (len(self.ch_mult) - 1)
        if x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(f"UNet: image size {x.shape[1:3]} is not divisible by 2**{len(self.ch_mult) - 1}")
        if self.num_classes is not None and y is None:
            raise ValueError("UNet: this model is class-conditional: pass labels y (num_classes = null class)")
        if self.num_classes is None and y is not None:
            raise ValueError("UNet: labels were given to an unconditional model (num_classes=None)")
        emb = TimeEmbedding(self.ch, 4 * self.ch)(t)
        if self.num_classes is not None:
            emb = emb + nn.Embed(self.num_classes + 1, 4 * self.ch)(y)

        h = nn.Conv(self.ch, (3, 3))(x)
        skips = [h]
        for level, mult in enumerate(self.ch_mult):
            for _ in range(self.num_res_blocks):
                h = ResBlock(self.ch * mult, self.groups, self.dropout)(h, emb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock(self.num_heads, self.groups)(h)
                skips.append(h)
            if level != len(self.ch_mult) - 1:
                h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
                skips.append(h)

        h = ResBlock(h.shape[-1], self.groups, self.dropout)(h, emb, train)
        h = AttnBlock(self.num_heads, self.groups)(h)
        h = ResBlock(h.shape[-1], self.groups, self.dropout)(h, emb, train)

        for level, mult in reversed(list(enumerate(self.ch_mult))):
            for _ in range(self.num_res_blocks + 1):
                h = jnp.concatenate([h, skips.pop()], axis=-1)
                h = ResBlock(self.ch * mult, self.groups, self.dropout)(h, emb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock(self.num_heads, self.groups)(h)
            if level != 0:
                b, hh, ww, c = h.shape
                h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)   # nearest-neighbour upsampling
                h = nn.Conv(c, (3, 3))(h)
        assert not skips
        h = nn.swish(nn.GroupNorm(num_groups=_groups(h.shape[-1], self.groups))(h))
        return nn.Conv(self.out_ch or x.shape[-1], (3, 3), kernel_init=nn.initializers.zeros)(h)

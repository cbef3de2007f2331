"""Sub-pixel convolution's rearrangement and its inverse (Shi et al. 2016, "Real-Time Single Image and Video
Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", Eq. 4: the periodic shuffle PS).

Layout (NHWC, this library's convention): channel ``(i r + j) C + c`` of input pixel (h, w) becomes channel
c of output pixel (h r + i, w r + j). `space_to_depth` is the exact inverse, so
``pixel_shuffle(space_to_depth(x, r), r) == x`` and ``space_to_depth(pixel_shuffle(y, r), r) == y``.
Used by SRGAN's SRResNet (Ledig et al. 2017, two x2 sub-pixel layers for x4) and the anime-character
generator of Jin et al. 2017 (`gen_jax.text2image.models`).
"""
from __future__ import annotations

import jax.numpy as jnp


def pixel_shuffle(x, r: int):
    """The periodic shuffle PS: [B, H, W, C r^2] -> [B, H r, W r, C]."""
    x = jnp.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"pixel_shuffle expects [B, H, W, C], got shape {x.shape}")
    b, h, w, c = x.shape
    if r < 1 or c % (r * r):
        raise ValueError(f"pixel_shuffle: {c} channels are not divisible by r^2 = {r * r}")
    x = x.reshape(b, h, w, r, r, c // (r * r))
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * r, w * r, c // (r * r))


def space_to_depth(x, r: int):
    """The inverse of `pixel_shuffle`: [B, H r, W r, C] -> [B, H, W, C r^2]."""
    x = jnp.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"space_to_depth expects [B, H, W, C], got shape {x.shape}")
    b, hr, wr, c = x.shape
    if r < 1 or hr % r or wr % r:
        raise ValueError(f"space_to_depth: image size {hr}x{wr} is not a multiple of r = {r}")
    x = x.reshape(b, hr // r, r, wr // r, r, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, hr // r, wr // r, r * r * c)

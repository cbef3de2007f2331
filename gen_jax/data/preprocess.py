"""Preprocessing as pure jnp functions, meant to run inside jitted steps.

The loaders yield the raw stored values (integer grey levels 0..K-1 for image datasets, float32 points for
toy2d); a step turns them into what its model wants with these functions. Conventions, with K = num_levels
(17 for digits, 256 for 8-bit images, 2 for binarized sets):

* ``scale01``:   x -> x / (K - 1), levels onto [0, 1] with both ends hit (0 -> 0, K-1 -> 1).
* ``to_pm1``:    [0, 1] -> [-1, 1].  ``center_pm1`` = ``to_pm1(scale01(x))``.
* ``binarize_static``:  x >= K // 2 -> 1, else 0 (digits: pixel >= 8, the fixed "binarized digits" of
  the likelihood protocol in gen_jax.metrics.likelihood; 8-bit images: pixel >= 128).
* ``binarize_dynamic``: one Bernoulli(x01) draw per pixel (Salakhutdinov & Murray 2008 style dynamic
  binarization; a fresh key per step gives a fresh binarization per step).
* ``dequantize``: (x + u) / K with u ~ U[0, 1): the uniform dequantization of Theis et al. (2016), mapping
  level k into the cell [k/K, (k+1)/K). Report likelihoods with `gen_jax.metrics.likelihood.dequantized_nll`.
* ``quantize``: the inverse of ``scale01`` for model outputs in [0, 1] (round to the nearest of the K levels),
  e.g. for sample grids.  ``undequantize`` is the inverse of ``dequantize`` (floor(y K)).

Paired augmentation, for examples of several aligned images (a pix2pix input and target: features ``A``
and ``B``): ``random_crop`` (optionally after a resize: pix2pix's "random jitter" resizes 256 -> 286 and
crops 256 back), ``random_flip_left_right`` and both in ``paired_jitter`` take a dict of image batches
[B, H, W, C] and apply the SAME draw to every image of one example, a different draw to each example, all
from one key: the same key gives the same batch.
"""
from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp


def _check_levels(num_levels) -> int:
    if num_levels is None or int(num_levels) < 2:
        raise ValueError(f"num_levels must be an integer >= 2 for discrete data, got {num_levels!r}")
    return int(num_levels)


def scale01(x, num_levels: int):
    """Integer levels 0..K-1 -> float32 in [0, 1]: x / (K - 1)."""
    k = _check_levels(num_levels)
    return jnp.asarray(x, jnp.float32) / (k - 1)


def to_pm1(x01):
    """[0, 1] -> [-1, 1]: 2 x - 1."""
    return 2.0 * jnp.asarray(x01, jnp.float32) - 1.0


def from_pm1(x):
    """[-1, 1] -> [0, 1]: (x + 1) / 2 (the inverse of `to_pm1`)."""
    return (jnp.asarray(x, jnp.float32) + 1.0) / 2.0


def center_pm1(x, num_levels: int):
    """Integer levels 0..K-1 -> float32 in [-1, 1]: 2 x / (K - 1) - 1."""
    return to_pm1(scale01(x, num_levels))


def binarize_static(x, num_levels: int):
    """Fixed binarization of integer levels: 1.0 where x >= K // 2, else 0.0 (float32).

    For digits (K = 17) the threshold is 8, for 8-bit images (K = 256) it is 128, for K = 2 it is 1 (identity).
    """
    k = _check_levels(num_levels)
    return (jnp.asarray(x) >= k // 2).astype(jnp.float32)


def binarize_dynamic(rng, x01):
    """Dynamic binarization: independent Bernoulli(x01) draws, float32 in {0, 1}; E[result] = x01."""
    x01 = jnp.asarray(x01, jnp.float32)
    return jax.random.bernoulli(rng, jnp.clip(x01, 0.0, 1.0)).astype(jnp.float32)


def dequantize(rng, x, num_levels: int):
    """Uniform dequantization (x + u) / K with u ~ U[0, 1): level k lands in the cell [k/K, (k+1)/K)."""
    k = _check_levels(num_levels)
    x = jnp.asarray(x, jnp.float32)
    u = jax.random.uniform(rng, x.shape, jnp.float32)
    # (k + u) / K rounds up to (k + 1) / K for u just below 1 in float32; keep it inside the cell.
    y = (x + u) / k
    return jnp.minimum(y, jnp.nextafter((x + 1.0) / k, jnp.float32(-jnp.inf)))


def undequantize(y, num_levels: int):
    """Inverse of `dequantize`: floor(y K), clipped to the levels 0..K-1 (int32)."""
    k = _check_levels(num_levels)
    return jnp.clip(jnp.floor(jnp.asarray(y, jnp.float32) * k), 0, k - 1).astype(jnp.int32)


def quantize(x01, num_levels: int):
    """Inverse of `scale01`: values in [0, 1] -> the nearest integer level round(x01 (K - 1)), clipped, int32.

    Use it to turn model outputs (means, samples) in [0, 1] back into levels, e.g. for sample grids.
    """
    k = _check_levels(num_levels)
    x01 = jnp.clip(jnp.asarray(x01, jnp.float32), 0.0, 1.0)
    return jnp.round(x01 * (k - 1)).astype(jnp.int32)


# ----------------------------------------------------------------------------------- paired augmentation


def _batch_hw(images: Mapping[str, jax.Array]) -> tuple[int, int, int]:
    """(B, H, W) shared by every [B, H, W, C] image batch of `images`; ValueError naming them otherwise."""
    if not images:
        raise ValueError("paired augmentation needs at least one image batch")
    shapes = {k: tuple(jnp.shape(v)) for k, v in images.items()}
    if any(len(s) != 4 for s in shapes.values()) or len({s[:3] for s in shapes.values()}) > 1:
        raise ValueError("paired augmentation needs [B, H, W, C] image batches of one batch size, height and "
                         f"width; got {shapes}")
    return next(iter(shapes.values()))[:3]


def _resize(x, hw: tuple[int, int], method: str):
    """[B, H, W, C] -> [B, h, w, C]; integer images are rounded and clipped back to their dtype's range."""
    x = jnp.asarray(x)
    y = jax.image.resize(x.astype(jnp.float32), (x.shape[0],) + tuple(hw) + (x.shape[-1],), method)
    if jnp.issubdtype(x.dtype, jnp.integer):
        info = jnp.iinfo(x.dtype)
        return jnp.clip(jnp.round(y), info.min, info.max).astype(x.dtype)
    return y.astype(x.dtype)


def random_crop(rng, images: Mapping[str, jax.Array], size: tuple[int, int], *,
                resize: tuple[int, int] | None = None, method: str = "bilinear") -> dict[str, jax.Array]:
    """A random (h, w) = `size` crop at the same offset in every image of an example, a fresh offset per example.

    Args:
      rng: one key for the whole batch (example i uses ``jax.random.split(rng, B)[i]``).
      images: name -> [B, H, W, C] batch; every batch has the same B, H, W (channels may differ).
      size: the crop's (height, width), at most the (resized) image size.
      resize: if given, every image is first resized to this (H', W') with `method` (a jax.image.resize
        method; integer levels are rounded back to integers), e.g. (286, 286) then size (256, 256).
    Offsets are uniform over the 0..H'-h rows and 0..W'-w columns.
    """
    b, height, width = _batch_hw(images)
    images = dict(images)
    if resize is not None:
        images = {k: _resize(v, resize, method) for k, v in images.items()}
        height, width = resize
    h, w = (int(s) for s in size)
    if not (0 < h <= height and 0 < w <= width):
        raise ValueError(f"random_crop: a {h}x{w} crop of {height}x{width} images")

    def offsets(key):
        ky, kx = jax.random.split(key)
        return jax.random.randint(ky, (), 0, height - h + 1), jax.random.randint(kx, (), 0, width - w + 1)

    oy, ox = jax.vmap(offsets)(jax.random.split(rng, b))

    def crop(img, y, x):
        return jax.lax.dynamic_slice(img, (y, x, 0), (h, w, img.shape[-1]))

    return {k: jax.vmap(crop)(v, oy, ox) for k, v in images.items()}


def random_flip_left_right(rng, images: Mapping[str, jax.Array], p: float = 0.5) -> dict[str, jax.Array]:
    """Mirrors every image of an example left-right together, each example with probability p (one key)."""
    b, _, _ = _batch_hw(images)
    flip = jax.random.bernoulli(rng, p, (b,))[:, None, None, None]
    return {k: jnp.where(flip, v[:, :, ::-1], v) for k, v in images.items()}


def paired_jitter(rng, images: Mapping[str, jax.Array], size: tuple[int, int], *,
                  resize: tuple[int, int] | None = None, flip: bool = True,
                  method: str = "bilinear") -> dict[str, jax.Array]:
    """pix2pix's random jitter (Isola et al. 2017): `random_crop` (after `resize`), then, with `flip`,
    `random_flip_left_right`, each draw shared by every image of an example."""
    r_crop, r_flip = jax.random.split(rng)
    out = random_crop(r_crop, images, size, resize=resize, method=method)
    return random_flip_left_right(r_flip, out) if flip else out

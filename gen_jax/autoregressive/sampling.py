"""Sampling from autoregressive image models: naive (one network pass per sub-pixel) and cached.

Both samplers draw sub-pixel number i (raster order, channels inside a pixel) as

    x_i = argmax_k (log p(x_i = k | x_<i) + g_k),   g ~ Gumbel(0, 1) from fold_in(key, i)

(the Gumbel-max trick), so the randomness of a sub-pixel depends only on (key, i): two samplers that compute
the same conditionals return the same image for the same key (`tests/autoregressive/test_sampling.py`).

* `sample(..., cached=False)`: the naive sampler, any model. A `lax.fori_loop` over the H*W*C sub-pixels,
  each step a full forward pass of the whole image: O(H W C) passes.
* `sample(..., cached=True)`: the fast sampler of Ramachandran et al. 2017 ("Fast Generation for
  Convolutional Autoregressive Models") for the convolutional models (PixelCNN, Gated PixelCNN,
  PixelCNN++). Each layer keeps its input map in a cache; generating pixel (r, c) computes every layer at
  (r, c) only (and, for the Gated PixelCNN's vertical stack and PixelCNN++'s u stream, one row per finished
  image row; PixelCNN++'s stride-2 scales only at the pixels and rows they have): the total work of drawing
  an image is about C forward passes (one for PixelCNN++, whose outputs at a pixel ignore that pixel)
  instead of H W C. The model supplies `decode_row` (before each image row), `decode_pixel` (the outputs
  at one pixel) and `decode_commit` (store a finished pixel).

Image completion: pass `x_init` (the given pixels) and `start_row`; rows before `start_row` are kept.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gen_jax.autoregressive.losses import head_log_probs
from gen_jax.autoregressive.models import scale_input


def _draw(key, i, log_probs):
    g = jax.random.gumbel(jax.random.fold_in(key, i), log_probs.shape, log_probs.dtype)
    return jnp.argmax(log_probs + g, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("model", "shape", "num_levels", "head", "num_mixtures"))
def _sample_naive(model, params, key, x0, labels, shape, num_levels, head, num_mixtures, start_row):
    H, W, C = shape

    def body(i, x):
        ch = i % C
        r = (i // C) // W
        c = (i // C) % W
        out = model.apply({"params": params}, scale_input(x, num_levels), labels)
        out_p = jax.lax.dynamic_index_in_dim(
            jax.lax.dynamic_index_in_dim(out, r, axis=1, keepdims=False), c, axis=1, keepdims=False)
        x_p = x[:, r, c]
        lp = head_log_probs(head, out_p, x_p, num_levels, num_mixtures)            # [N, C, K]
        v = _draw(key, i, jax.lax.dynamic_index_in_dim(lp, ch, axis=1, keepdims=False))
        return x.at[:, r, c, ch].set(v)

    return jax.lax.fori_loop(start_row * W * C, H * W * C, body, x0)


@functools.partial(jax.jit, static_argnames=("model", "shape", "num_levels", "head", "num_mixtures"))
def _sample_cached(model, params, key, x0, labels, shape, num_levels, head, num_mixtures, start_row):
    H, W, C = shape
    # Models whose output at a pixel ignores that pixel's channels (PixelCNN++) decode once per pixel.
    per_channel = getattr(model, "decode_per_channel", True)
    _, cache = model.apply({"params": params}, scale_input(x0, num_levels), labels, mutable=["cache"])
    cache = cache["cache"]

    def apply(cache, method, *args):
        _, upd = model.apply({"params": params, "cache": cache}, *args, method=method, mutable=["cache"])
        return upd["cache"]

    def row_body(r, carry):
        x, cache = carry
        prev = x[:, jnp.maximum(r - 1, 0)]
        cache = apply(cache, "decode_row", scale_input(prev, num_levels), r, labels)

        def col_body(c, carry):
            def outputs(x, cache):
                out, upd = model.apply({"params": params, "cache": cache}, scale_input(x[:, r, c], num_levels),
                                       r, c, labels, method="decode_pixel", mutable=["cache"])
                return out, upd["cache"]

            def ch_body(ch, carry):
                x, cache, out = carry
                out_c, cache = outputs(x, cache) if per_channel else (out, cache)
                lp = head_log_probs(head, out_c, x[:, r, c], num_levels, num_mixtures)
                v = _draw(key, (r * W + c) * C + ch, jax.lax.dynamic_index_in_dim(lp, ch, 1, False))
                return x.at[:, r, c, ch].set(v), cache, out

            x, cache = carry
            # out: this pixel's outputs when they do not depend on its channels, else recomputed per channel
            out, cache = (jnp.zeros(()), cache) if per_channel else outputs(x, cache)
            x, cache, _ = jax.lax.fori_loop(0, C, ch_body, (x, cache, out))
            cache = apply(cache, "decode_commit", scale_input(x[:, r, c], num_levels), r, c, labels)
            return x, cache

        return jax.lax.fori_loop(0, W, col_body, (x, cache))

    x, _ = jax.lax.fori_loop(start_row, H, row_body, (x0, cache))
    return x


def sample(model, params, key, num_samples: int, shape, num_levels: int, *, head: str = "categorical",
           num_mixtures: int = 0, labels=None, x_init=None, start_row: int = 0, cached: bool = False):
    """Draws `num_samples` images [N, H, W, C] of integer levels from an autoregressive model.

    Args:
      model: a model of `gen_jax.autoregressive.models` (cached=True needs `decode_row`/`decode_pixel`).
      params: its parameters.
      key: PRNG key; sub-pixel i uses fold_in(key, i).
      num_samples, shape (H, W, C), num_levels (K), head, num_mixtures: what to draw.
      labels: int [N] class labels for class-conditional models.
      x_init: [N, H, W, C] integer image whose rows before `start_row` are kept (image completion).
      cached: use the fast cached sampler (identical samples, far fewer operations).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ValueError(f"shape must be (H, W, C), got {shape}")
    if not 0 <= start_row < shape[0]:
        raise ValueError(f"start_row must be in [0, {shape[0]}), got {start_row}")
    if x_init is None:
        if start_row:
            raise ValueError("start_row > 0 (completion) needs x_init holding the given rows")
        x0 = jnp.zeros((num_samples,) + shape, jnp.int32)
    else:
        x0 = jnp.asarray(x_init, jnp.int32)
        if x0.shape != (num_samples,) + shape:
            raise ValueError(f"x_init must have shape {(num_samples,) + shape}, got {x0.shape}")
        # Rows from start_row on are generated: clear them so both samplers see the same inputs.
        x0 = x0.at[:, start_row:].set(0)
    if labels is not None:
        labels = jnp.asarray(labels, jnp.int32)
        if labels.shape != (num_samples,):
            raise ValueError(f"labels must have shape ({num_samples},), got {labels.shape}")
    if cached and not hasattr(model, "decode_pixel"):
        raise ValueError(f"{type(model).__name__} has no cached decoding; use cached=False")
    fn = _sample_cached if cached else _sample_naive
    return fn(model, params, key, x0, labels, shape, num_levels, head, num_mixtures, jnp.int32(start_row))

"""Masked convolutions for autoregressive image models, with an incremental ("cached") decoding mode.

A masked convolution zeroes the kernel taps that would let output position i see input positions at or
after i in raster order (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", Sec. 3.4):

* mask ``'A'`` (first layer): the centre tap sees only the data channels strictly before the output's
  channel group (R sees nothing of the current pixel, G sees R, B sees R and G);
* mask ``'B'`` (later layers): the centre tap also connects a channel group to itself;
* mask ``'V'`` (vertical stack of the Gated PixelCNN, van den Oord et al. 2016b): every tap in the rows at or
  above the centre, all channels; the caller shifts the result down one row before using it.

Channel groups: a layer with ``n`` features split over ``C`` data channels gives feature ``f`` the group
``f * C // n`` (contiguous blocks, ``n`` divisible by ``C``). With ``C = 1`` there is no channel masking.

Decoding mode (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models"): a
sampler that produces one pixel at a time only needs each layer's output at the pixel being generated, and
that output depends only on earlier positions of the layer's input, which were computed when those pixels
were generated. Each layer therefore keeps its (zero-padded) input map in the flax ``'cache'`` collection;
``__call__(x_pixel, pos=(r, c))`` writes the new input value at ``(r, c)`` and computes one output from the
cached ``kh x kw`` patch, and ``__call__(x_row, row=r)`` does the same for a whole row (used by the vertical
stack, which changes only when a row is complete). ``write_only=True`` only stores a pixel's final value
(after its last channel is drawn, the one value no layer output at that pixel depends on). A full-image call with the ``'cache'`` collection
mutable creates the cache (with the padding that the full convolution uses).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

MASK_TYPES = ("A", "B", "V")

# LeCun-normal (fan-in) initialization with an untruncated normal: as good for these models, and much
# cheaper for XLA to compile than the truncated normal (it matters for CPU tests of deep models).
_KERNEL_INIT = nn.initializers.variance_scaling(1.0, "fan_in", "normal")


def channel_groups(num_features: int, data_channels: int) -> np.ndarray:
    """Group index (0..C-1) of each of ``num_features`` features under contiguous channel grouping."""
    if num_features % data_channels != 0:
        raise ValueError(f"number of features ({num_features}) must be divisible by the number of data "
                         f"channels ({data_channels}) for channel masking")
    return np.arange(num_features) * data_channels // num_features


def causal_mask(kernel_size: Tuple[int, int], in_features: int, out_features: int, mask_type: str,
                data_channels: int = 1) -> np.ndarray:
    """The 0/1 kernel mask [kh, kw, in, out] of a masked convolution (see the module docstring).

    The centre tap is at (kh // 2, kw // 2); kernel sizes must be odd so that the centre is a pixel.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"unknown mask type {mask_type!r}; expected one of {MASK_TYPES}")
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolution needs odd kernel sizes, got {kernel_size}")
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((kh, kw, in_features, out_features), np.float32)
    if mask_type == "V":
        mask[: ch + 1] = 1.0
        return mask
    mask[:ch] = 1.0
    mask[ch, :cw] = 1.0
    gi = channel_groups(in_features, data_channels)[:, None]
    go = channel_groups(out_features, data_channels)[None, :]
    mask[ch, cw] = (gi < go) if mask_type == "A" else (gi <= go)
    return mask


class MaskedConv2D(nn.Module):
    """A 2-D convolution (stride 1, 'SAME' zero padding) whose kernel is multiplied by `causal_mask`.

    Attributes:
      features: output features.
      kernel_size: int or (kh, kw), odd.
      mask_type: 'A', 'B' or 'V'.
      data_channels: C, the number of channels of the modelled image (channel groups).
      use_bias: add a bias.
    """
    features: int
    kernel_size: Union[int, Sequence[int]]
    mask_type: str = "B"
    data_channels: int = 1
    use_bias: bool = True

    def _ks(self):
        ks = self.kernel_size
        return (ks, ks) if isinstance(ks, int) else tuple(ks)

    @nn.compact
    def __call__(self, x, pos: Optional[Tuple] = None, row=None, write_only: bool = False):
        kh, kw = self._ks()
        ph, pw = kh // 2, kw // 2
        cin = x.shape[-1]
        kernel = self.param("kernel", _KERNEL_INIT, (kh, kw, cin, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,)) if self.use_bias else None
        kernel = kernel * jnp.asarray(causal_mask((kh, kw), cin, self.features, self.mask_type,
                                                  self.data_channels))
        if kh == 1 and kw == 1:                               # pointwise: any leading shape, no cache
            y = jnp.einsum("...i,io->...o", x, kernel[0, 0])
        elif pos is None and row is None:                     # full image [N, H, W, Cin]
            if x.ndim != 4:
                raise ValueError(f"MaskedConv2D expects [N, H, W, C] input, got shape {x.shape}")
            xp = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
            if self.is_mutable_collection("cache"):
                cache = self.variable("cache", "inputs", lambda: xp)
                cache.value = xp
            y = jax.lax.conv_general_dilated(xp, kernel, (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
        else:
            if not self.has_variable("cache", "inputs"):
                raise ValueError("MaskedConv2D decoding needs a cache: run the model once on a full image "
                                 "with mutable=['cache'] first")
            cache = self.variable("cache", "inputs", None)
            xp = cache.value
            n = xp.shape[0]
            if pos is not None:                               # one pixel: x [N, Cin]
                r, c = pos
                xp = jax.lax.dynamic_update_slice(xp, x[:, None, None, :].astype(xp.dtype),
                                                  (0, r + ph, c + pw, 0))
                if write_only:                                # commit a finished pixel, compute nothing
                    cache.value = xp
                    return None
                patch = jax.lax.dynamic_slice(xp, (0, r, c, 0), (n, kh, kw, cin))
                y = jnp.einsum("nhwi,hwio->no", patch, kernel)
            else:                                             # one row: x [N, W, Cin]
                xp = jax.lax.dynamic_update_slice(xp, x[:, None, :, :].astype(xp.dtype),
                                                  (0, row + ph, pw, 0))
                slab = jax.lax.dynamic_slice(xp, (0, row, 0, 0), (n, kh, xp.shape[2], cin))
                y = jax.lax.conv_general_dilated(slab, kernel, (1, 1), "VALID",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))[:, 0]
            cache.value = xp
        if bias is not None:
            y = y + bias
        return y


def shift_down(x):
    """Shifts a [N, H, W, C] map down one row, filling the top row with zeros (row r sees row r - 1)."""
    return jnp.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


def shift_right(x):
    """Shifts a [N, H, W, C] map right one column, filling the left column with zeros."""
    return jnp.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]

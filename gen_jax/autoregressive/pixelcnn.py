"""PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks", ICML) and the
Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders", NeurIPS).

Both are stacks of masked convolutions (`gen_jax.nn.masked`); their decoding methods compute the outputs of
one pixel from per-layer caches, for the fast sampler (`gen_jax.autoregressive.sampling`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gen_jax.autoregressive.layers import _RowCache, _check_input, _out_features
from gen_jax.nn.masked import MaskedConv2D, shift_down


def _gate(z):
    """Gated activation tanh(a) * sigmoid(b) (van den Oord et al. 2016b, eq. 2).

    z [..., 2F] is read as [..., F, 2] so that feature f's two halves lie in f's channel group.
    """
    z = z.reshape(z.shape[:-1] + (z.shape[-1] // 2, 2))
    return jnp.tanh(z[..., 0]) * jax.nn.sigmoid(z[..., 1])



class PixelCNN(nn.Module):
    """PixelCNN (van den Oord et al. 2016a, Sec. 3.5 and Table 1).

    A 7x7 mask-A convolution to 2h features, residual blocks (ReLU, 1x1 to h, ReLU, 3x3 mask B, ReLU,
    1x1 back to 2h, added to the input), then ReLU, 1x1 mask B, ReLU, 1x1 mask B to the head's outputs.
    Its receptive field has a blind spot to the upper right (tested).
    """
    num_levels: int
    data_channels: int = 1
    features: int = 32
    num_blocks: int = 4
    first_kernel: int = 7
    kernel: int = 3
    head_features: int = 64
    head: str = "categorical"
    num_mixtures: int = 0

    def setup(self):
        c, h = self.data_channels, self.features
        self.first = MaskedConv2D(2 * h, self.first_kernel, "A", c)
        self.reduce = [MaskedConv2D(h, 1, "B", c) for _ in range(self.num_blocks)]
        self.mid = [MaskedConv2D(h, self.kernel, "B", c) for _ in range(self.num_blocks)]
        self.expand = [MaskedConv2D(2 * h, 1, "B", c) for _ in range(self.num_blocks)]
        self.out1 = MaskedConv2D(self.head_features, 1, "B", c)
        self.out2 = MaskedConv2D(_out_features(self.head, c, self.num_levels, self.num_mixtures), 1, "B", c)

    def _forward(self, x, **where):
        z = self.first(x, **where)
        for red, mid, exp in zip(self.reduce, self.mid, self.expand):
            y = red(nn.relu(z))
            y = mid(nn.relu(y), **where)
            z = z + exp(nn.relu(y))
        return self.out2(nn.relu(self.out1(nn.relu(z))))

    def __call__(self, x, label=None, train: bool = False):
        _check_input(x, self.data_channels)
        return self._forward(x)

    def decode_row(self, x_row, r, label=None):
        """Nothing to do per row: every layer is updated per pixel."""
        return None

    def decode_pixel(self, x_pix, r, c, label=None):
        """Outputs [N, P] at pixel (r, c), given its (partly generated) value x_pix [N, C] and the caches."""
        return self._forward(x_pix, pos=(r, c))

    def decode_commit(self, x_pix, r, c, label=None):
        """Stores the finished pixel (all channels drawn) in the first layer's input cache."""
        self.first(x_pix, pos=(r, c), write_only=True)


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN (van den Oord et al. 2016b, Fig. 2): a vertical and a horizontal stack, no blind spot.

    Vertical stack: (k x k) convolutions over the rows at and above each position (mask 'V'); its
    pre-activation, shifted down one row and through a 1x1 convolution, is added to the horizontal stack,
    so position (r, c) receives every pixel of the rows above within the receptive field. Horizontal stack:
    (1 x k) masked convolutions over the pixels to the left (mask 'A' first, 'B' after), residual 1x1.
    Both stacks use gated units tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h), where h is the one-hot
    class label (class-conditional when num_classes > 0).
    """
    num_levels: int
    data_channels: int = 1
    features: int = 32
    num_layers: int = 5
    first_kernel: int = 7
    kernel: int = 3
    head_features: int = 64
    num_classes: int = 0
    head: str = "categorical"
    num_mixtures: int = 0

    def setup(self):
        c, f, L = self.data_channels, self.features, self.num_layers
        ks = [self.first_kernel] + [self.kernel] * (L - 1)
        self.v_convs = [MaskedConv2D(2 * f, (k, k), "V", c) for k in ks]
        self.h_convs = [MaskedConv2D(2 * f, (1, k), "A" if i == 0 else "B", c) for i, k in enumerate(ks)]
        self.links = [nn.Dense(2 * f) for _ in range(L)]
        self.h_outs = [MaskedConv2D(f, 1, "B", c) for _ in range(L)]
        self.link_rows = [_RowCache() for _ in range(L)]
        if self.num_classes > 0:
            self.cond_v = [nn.Dense(2 * f, use_bias=False) for _ in range(L)]
            self.cond_h = [nn.Dense(2 * f, use_bias=False) for _ in range(L)]
        self.out1 = MaskedConv2D(self.head_features, 1, "B", c)
        self.out2 = MaskedConv2D(_out_features(self.head, c, self.num_levels, self.num_mixtures), 1, "B", c)

    def _cond(self, label, layer, which, ndim):
        if self.num_classes <= 0:
            return 0.0
        if label is None:
            raise ValueError("this Gated PixelCNN is class-conditional: pass the labels")
        onehot = jax.nn.one_hot(label, self.num_classes)
        h = (self.cond_v if which == "v" else self.cond_h)[layer](onehot)          # [N, 2F]
        return h.reshape(h.shape[:1] + (1,) * (ndim - 2) + h.shape[1:])

    def _head(self, h):
        return self.out2(nn.relu(self.out1(nn.relu(h))))

    def _h_layer(self, i, h, link, label, **where):
        hz = self.h_convs[i](h, **where) + link + self._cond(label, i, "h", h.ndim)
        h_new = self.h_outs[i](_gate(hz))
        return h_new if i == 0 else h + h_new

    def __call__(self, x, label=None, train: bool = False):
        _check_input(x, self.data_channels)
        v, h = x, x
        for i in range(self.num_layers):
            vz = self.v_convs[i](v)
            link = shift_down(self.links[i](vz))
            if self.is_mutable_collection("cache"):
                self.link_rows[i](shape=(x.shape[0], x.shape[2], 2 * self.features))
            h = self._h_layer(i, h, link, label)
            v = _gate(vz + self._cond(label, i, "v", 4))
        return self._head(h)

    def decode_row(self, x_row, r, label=None):
        """Before generating row r: runs the vertical stack on the finished row r - 1 (x_row [N, W, C])
        and stores each layer's link to the horizontal stack (zeros for r = 0)."""
        rr = jnp.maximum(r - 1, 0)
        v = x_row
        for i in range(self.num_layers):
            vz = self.v_convs[i](v, row=rr)
            self.link_rows[i](value=jnp.where(r > 0, self.links[i](vz), 0.0))
            v = _gate(vz + self._cond(label, i, "v", 3))
        return None

    def decode_pixel(self, x_pix, r, c, label=None):
        h = x_pix
        for i in range(self.num_layers):
            link = self.link_rows[i]()[:, c]
            h = self._h_layer(i, h, link, label, pos=(r, c))
        return self._head(h)

    def decode_commit(self, x_pix, r, c, label=None):
        """Stores the finished pixel in the first horizontal layer's input cache (the vertical stack reads
        the finished row in `decode_row`)."""
        self.h_convs[0](x_pix, pos=(r, c), write_only=True)

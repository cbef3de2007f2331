"""PixelRNN: Row LSTM and Diagonal BiLSTM (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent
Neural Networks", ICML, Sections 3.1-3.3). No cached sampler: they are sampled by full passes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gen_jax.autoregressive.layers import _KERNEL_INIT, _check_input, _out_features
from gen_jax.nn.masked import MaskedConv2D, shift_down


def _lstm_update(gates, c):
    """LSTM cell from pre-activations [..., 4F] read as [..., F, 4] (i, f, o, g): keeps channel groups."""
    g = gates.reshape(gates.shape[:-1] + (gates.shape[-1] // 4, 4))
    i, f, o = jax.nn.sigmoid(g[..., 0]), jax.nn.sigmoid(g[..., 1]), jax.nn.sigmoid(g[..., 2])
    c = f * c + i * jnp.tanh(g[..., 3])
    return o * jnp.tanh(c), c


class _RowLSTMLayer(nn.Module):
    """Row LSTM (van den Oord et al. 2016a, Sec. 3.1): rows are processed top to bottom (`lax.scan`); the
    input-to-state part is a masked 1 x k convolution of the row, the state-to-state part a 1-D convolution
    (width k) of the previous row's hidden state: a triangular receptive field above each pixel."""
    features: int
    kernel: int = 3
    data_channels: int = 1

    @nn.compact
    def __call__(self, z):
        f, k = self.features, self.kernel
        n, H, W, _ = z.shape
        x_s = MaskedConv2D(4 * f, (1, k), "B", self.data_channels)(z)              # [N, H, W, 4F]
        k_ss = self.param("state_kernel", _KERNEL_INIT, (k, f, 4 * f))

        def step(carry, xs_row):
            h, c = carry
            hp = jnp.pad(h, ((0, 0), (k // 2, k // 2), (0, 0)))
            s = sum(jnp.einsum("nwf,fg->nwg", hp[:, t:t + W], k_ss[t]) for t in range(k))
            h, c = _lstm_update(xs_row + s, c)
            return (h, c), h

        zeros = jnp.zeros((n, W, f), z.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(x_s, 0, 1))
        return jnp.swapaxes(hs, 0, 1)


def skew(x):
    """[N, H, W, D] -> [N, H, H + W - 1, D], row i shifted right by i (zeros elsewhere).

    Pad each row to length L = W + H, flatten the rows and re-cut them with length L - 1: row i then
    starts i positions later (pads and reshapes only, so the gradient is cheap too)."""
    n, H, W, d = x.shape
    L = W + H
    flat = jnp.pad(x, ((0, 0), (0, 0), (0, H), (0, 0))).reshape(n, H * L, d)
    return flat[:, : H * (L - 1)].reshape(n, H, L - 1, d)


def unskew(y, width: int):
    """Inverse of `skew`: [N, H, H + W - 1, D] -> [N, H, W, D] (out[i, c] = y[i, c + i])."""
    n, H, Ws, d = y.shape
    flat = jnp.pad(y.reshape(n, H * Ws, d), ((0, 0), (0, H), (0, 0)))
    return flat.reshape(n, H, Ws + 1, d)[:, :, :width]


class _DiagonalLSTM(nn.Module):
    """One direction of the Diagonal BiLSTM (van den Oord et al. 2016a, Sec. 3.2): the input is skewed so
    that diagonals become columns, scanned left to right; state-to-state is a 2 x 1 convolution over the
    previous column (positions (r - 1, c) and (r, c - 1) of the unskewed image), input-to-state 1 x 1."""
    features: int
    data_channels: int = 1

    @nn.compact
    def __call__(self, z):
        f = self.features
        n, H, W, _ = z.shape
        x_s = skew(MaskedConv2D(4 * f, 1, "B", self.data_channels)(z))         # [N, H, H+W-1, 4F]
        k_ss = self.param("state_kernel", _KERNEL_INIT, (2, f, 4 * f))

        def step(carry, xs_col):                                                 # xs_col [N, H, 4F]
            h, c = carry
            above = jnp.pad(h, ((0, 0), (1, 0), (0, 0)))[:, :-1]
            s = jnp.einsum("nhf,fg->nhg", above, k_ss[0]) + jnp.einsum("nhf,fg->nhg", h, k_ss[1])
            h, c = _lstm_update(xs_col + s, c)
            return (h, c), h

        zeros = jnp.zeros((n, H, f), z.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), jnp.moveaxis(x_s, 2, 0))   # [H+W-1, N, H, F]
        return unskew(jnp.moveaxis(hs, 0, 2), W)


class _DiagonalBiLSTMLayer(nn.Module):
    """Both directions; the right-to-left one runs on the mirrored image and, since it has seen pixels to
    the right in the current row, is shifted down one row before being added (Sec. 3.2)."""
    features: int
    data_channels: int = 1

    @nn.compact
    def __call__(self, z):
        fwd = _DiagonalLSTM(self.features, self.data_channels)(z)
        bwd = _DiagonalLSTM(self.features, self.data_channels)(z[:, :, ::-1])[:, :, ::-1]
        return fwd + shift_down(bwd)


class PixelRNN(nn.Module):
    """PixelRNN: a 7x7 mask-A convolution, `num_layers` Row LSTM or Diagonal BiLSTM layers with residual
    connections (z <- z + 1x1 mask-B conv of the LSTM output, Sec. 3.3), then ReLU-1x1-ReLU-1x1 (mask B)."""
    num_levels: int
    kind: str = "row_lstm"                  # 'row_lstm' or 'diagonal_bilstm'
    data_channels: int = 1
    features: int = 32
    num_layers: int = 2
    first_kernel: int = 7
    kernel: int = 3
    head_features: int = 64
    head: str = "categorical"
    num_mixtures: int = 0

    @nn.compact
    def __call__(self, x, label=None, train: bool = False):
        _check_input(x, self.data_channels)
        c, f = self.data_channels, self.features
        z = MaskedConv2D(f, self.first_kernel, "A", c)(x)
        for _ in range(self.num_layers):
            if self.kind == "row_lstm":
                h = _RowLSTMLayer(f, self.kernel, c)(z)
            elif self.kind == "diagonal_bilstm":
                h = _DiagonalBiLSTMLayer(f, c)(z)
            else:
                raise ValueError(f"unknown PixelRNN kind {self.kind!r}; expected 'row_lstm' or "
                                 "'diagonal_bilstm'")
            z = z + MaskedConv2D(f, 1, "B", c)(h)
        out = _out_features(self.head, c, self.num_levels, self.num_mixtures)
        return MaskedConv2D(out, 1, "B", c)(nn.relu(MaskedConv2D(self.head_features, 1, "B", c)(nn.relu(z))))

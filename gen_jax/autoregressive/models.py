"""Autoregressive image models: PixelCNN, Gated PixelCNN, PixelCNN++, Row LSTM and Diagonal BiLSTM.

Every model maps an image x [N, H, W, C] scaled to [-1, 1] (`scale_input`) to per-pixel outputs
[N, H, W, P] such that the outputs used for sub-pixel (i, c) depend only on sub-pixels before it in raster
order (rows, then columns, then channels R < G < B). The head turns outputs into log-probabilities
(`gen_jax.autoregressive.losses`): P = C*K logits (categorical) or the logistic-mixture parameters.

Papers:
* PixelCNN and PixelRNN (Row LSTM, Diagonal BiLSTM): van den Oord, Kalchbrenner, Kavukcuoglu 2016,
  "Pixel Recurrent Neural Networks" (ICML).
* Gated PixelCNN: van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders" (NeurIPS).
* PixelCNN++: Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++" (ICLR).

The convolutional models with masked convolutions (PixelCNN, Gated PixelCNN) also expose decoding methods
that compute the outputs of one pixel from per-layer caches (`gen_jax.nn.masked`), used by the fast sampler.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from gen_jax.autoregressive import losses
from gen_jax.nn.masked import MaskedConv2D, shift_down, shift_right

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


def _gate(z):
    """Gated activation tanh(a) * sigmoid(b) (van den Oord et al. 2016b, eq. 2).

    z [..., 2F] is read as [..., F, 2] so that feature f's two halves lie in f's channel group.
    """
    z = z.reshape(z.shape[:-1] + (z.shape[-1] // 2, 2))
    return jnp.tanh(z[..., 0]) * jax.nn.sigmoid(z[..., 1])


def _check_input(x, data_channels):
    if x.ndim != 4 or x.shape[-1] != data_channels:
        raise ValueError(f"expected images [N, H, W, {data_channels}], got shape {x.shape}")


# ----------------------------------------------------------------------------------------------------------
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


class _RowCache(nn.Module):
    """A cache slot holding one row of a map (the vertical-to-horizontal link of the Gated PixelCNN)."""

    @nn.compact
    def __call__(self, value=None, shape=None):
        var = self.variable("cache", "row", jnp.zeros, shape, jnp.float32)
        if value is not None:
            var.value = value
        return var.value


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


# ----------------------------------------------------------------------------------------------------------
# PixelCNN++


class _Conv(nn.Module):
    """Convolution with explicit padding and optional weight normalization (Salimans & Kingma 2016):
    kernel = g * v / ||v|| per output feature."""
    features: int
    kernel_size: tuple
    padding: tuple
    stride: int = 1
    weight_norm: bool = False

    @nn.compact
    def __call__(self, x):
        kh, kw = self.kernel_size
        shape = (kh, kw, x.shape[-1], self.features)
        v = self.param("kernel", _KERNEL_INIT, shape)
        if self.weight_norm:
            g = self.param("scale", nn.initializers.ones, (self.features,))
            v = v * (g / jnp.sqrt(jnp.sum(v ** 2, axis=(0, 1, 2)) + 1e-12))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        y = jax.lax.conv_general_dilated(x, v, (self.stride, self.stride), self.padding,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + b


def _down_conv(features, kernel_size, stride=1, wn=False):
    """Down-shifted convolution: output (r, c) sees input rows r - kh + 1 .. r, columns c - kw//2 .. c + kw//2."""
    kh, kw = kernel_size
    return _Conv(features, kernel_size, ((kh - 1, 0), ((kw - 1) // 2, (kw - 1) // 2)), stride, wn)


def _down_right_conv(features, kernel_size, stride=1, wn=False):
    """Down-right-shifted convolution: output (r, c) sees input rows r - kh + 1 .. r, columns c - kw + 1 .. c."""
    kh, kw = kernel_size
    return _Conv(features, kernel_size, ((kh - 1, 0), (kw - 1, 0)), stride, wn)


def _concat_elu(x):
    return jax.nn.elu(jnp.concatenate([x, -x], axis=-1))


def _upsample(x):
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class _GatedResnet(nn.Module):
    """PixelCNN++ gated residual block: x + a * sigmoid(b), [a, b] = conv(dropout(f(conv(f(x)) + nin(f(aux)))))
    with f = concat_elu."""
    features: int
    kind: str            # 'down' or 'down_right'
    dropout: float = 0.0
    weight_norm: bool = False

    @nn.compact
    def __call__(self, x, aux=None, train: bool = False):
        conv = _down_conv if self.kind == "down" else _down_right_conv
        ks = (2, 3) if self.kind == "down" else (2, 2)
        y = conv(self.features, ks, wn=self.weight_norm)(_concat_elu(x))
        if aux is not None:
            y = y + _Conv(self.features, (1, 1), ((0, 0), (0, 0)), 1, self.weight_norm)(_concat_elu(aux))
        y = _concat_elu(y)
        y = nn.Dropout(self.dropout, deterministic=not train)(y)
        y = conv(2 * self.features, ks, wn=self.weight_norm)(y)
        a, b = jnp.split(y, 2, axis=-1)
        return x + a * jax.nn.sigmoid(b)


class PixelCNNPlusPlus(nn.Module):
    """PixelCNN++ (Salimans et al. 2017): two shifted streams (u: the rows above; ul: above and to the
    left), gated resnets with concat_elu, `num_scales` stride-2 downsamplings with shortcut connections from
    every down-pass block to the matching up-pass block, dropout, optional weight normalization, and the
    discretized logistic mixture head (or a categorical head).

    Deviation, on purpose: upsampling is nearest-neighbour x2 followed by a shifted convolution instead of
    a shifted transposed convolution; both are learned stride-2 upsamplings and this form is causal by
    construction (each upsampled position copies a low-resolution position whose inputs all precede it).
    Height and width must be divisible by 2**num_scales.
    """
    num_levels: int
    data_channels: int = 1
    features: int = 32
    num_resnet: int = 1
    num_scales: int = 1
    dropout: float = 0.0
    weight_norm: bool = False
    head: str = "logistic_mixture"
    num_mixtures: int = 5

    @nn.compact
    def __call__(self, x, label=None, train: bool = False):
        _check_input(x, self.data_channels)
        f, wn, S, R = self.features, self.weight_norm, self.num_scales, self.num_resnet
        if x.shape[1] % (2 ** S) or x.shape[2] % (2 ** S):
            raise ValueError(f"PixelCNN++ with num_scales={S} needs H and W divisible by {2 ** S}, "
                             f"got {x.shape[1:3]}")
        block = lambda kind: _GatedResnet(f, kind, self.dropout, wn)  # noqa: E731
        xp = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)
        u = shift_down(_down_conv(f, (2, 3), wn=wn)(xp))
        ul = (shift_down(_down_conv(f, (1, 3), wn=wn)(xp))
              + shift_right(_down_right_conv(f, (2, 1), wn=wn)(xp)))
        us, uls = [u], [ul]
        for s in range(S + 1):
            for _ in range(R):
                u = block("down")(u, train=train)
                ul = block("down_right")(ul, u, train=train)
                us.append(u)
                uls.append(ul)
            if s < S:
                u = _down_conv(f, (2, 3), stride=2, wn=wn)(u)
                ul = _down_right_conv(f, (2, 2), stride=2, wn=wn)(ul)
                us.append(u)
                uls.append(ul)
        u, ul = us.pop(), uls.pop()
        for s in range(S + 1):
            for _ in range(R + (1 if s > 0 else 0)):
                u = block("down")(u, us.pop(), train=train)
                ul = block("down_right")(ul, jnp.concatenate([u, uls.pop()], axis=-1), train=train)
            if s < S:
                u = _down_conv(f, (2, 3), wn=wn)(_upsample(u))
                ul = _down_right_conv(f, (2, 2), wn=wn)(_upsample(ul))
        assert not us and not uls
        out = _out_features(self.head, self.data_channels, self.num_levels, self.num_mixtures)
        return _Conv(out, (1, 1), ((0, 0), (0, 0)), 1, wn)(jax.nn.elu(ul))


# ----------------------------------------------------------------------------------------------------------
# PixelRNN


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


MODELS = {
    "pixelcnn": PixelCNN,
    "gated_pixelcnn": GatedPixelCNN,
    "pixelcnn_pp": PixelCNNPlusPlus,
    "row_lstm": lambda **kw: PixelRNN(kind="row_lstm", **kw),
    "diagonal_bilstm": lambda **kw: PixelRNN(kind="diagonal_bilstm", **kw),
}
CACHED_MODELS = ("pixelcnn", "gated_pixelcnn")


def make_model(name: str, **kwargs) -> nn.Module:
    """Builds a model by registry name (`MODELS`) with its keyword attributes."""
    if name not in MODELS:
        raise ValueError(f"unknown autoregressive model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def init_params(model: nn.Module, key, x, label=None):
    """Parameters for `model` on inputs like x: fan-in scaled normal kernels, zero biases, unit WN scales.

    Same distribution as the modules' own initializers, drawn as ONE normal vector sliced per parameter:
    XLA compiles one random-number kernel instead of one per parameter, which makes initializing a deep
    model on CPU take well under a second instead of tens of seconds.
    """
    shapes = jax.eval_shape(lambda k: model.init(k, x, label), key)["params"]
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    sizes = [int(np.prod(leaf.shape)) for _, leaf in leaves]

    @jax.jit
    def make(key):
        z = jax.random.normal(key, (sum(sizes),), jnp.float32)
        out, start = [], 0
        for (path, leaf), size in zip(leaves, sizes):
            name = getattr(path[-1], "key", str(path[-1]))
            if name == "bias":
                out.append(jnp.zeros(leaf.shape, leaf.dtype))
            elif name == "scale":
                out.append(jnp.ones(leaf.shape, leaf.dtype))
            else:
                fan_in = int(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 1
                out.append((z[start:start + size] / np.sqrt(fan_in)).reshape(leaf.shape).astype(leaf.dtype))
            start += size
        return jax.tree_util.tree_unflatten(treedef, out)

    return make(key)

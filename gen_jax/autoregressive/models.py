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

The convolutional models (PixelCNN, Gated PixelCNN, PixelCNN++) also expose decoding methods that compute the
outputs of one pixel from per-layer caches (`gen_jax.nn.masked`, `_Conv`), used by the fast sampler.
"""
from __future__ import annotations


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
    """Convolution with explicit zero padding ((top, bottom), (left, right)), a stride, optional weight
    normalization (Salimans & Kingma 2016: kernel = g * v / ||v|| per output feature) and a decoding mode.

    A 1x1 convolution without padding is pointwise and applies to any [..., Cin] input.

    Decoding mode (the cached sampler): a full call [N, H, W, Cin] with the 'cache' collection mutable stores
    the padded input map. Afterwards `__call__(patch, write_at=(r, c))` stores input values [N, h, w, Cin]
    at input position (r, c); `pixel=(R, C)` returns the output at (R, C) [N, F] and `row=R` the output row
    R [N, W_out, F], both computed from the cached map (a write and a read may share one call).
    """
    features: int
    kernel_size: tuple
    padding: tuple
    stride: int = 1
    weight_norm: bool = False

    @nn.compact
    def __call__(self, x=None, *, write_at=None, pixel=None, row=None):
        kh, kw = self.kernel_size
        (pt, pb), (pl, pr) = self.padding
        s = self.stride
        pointwise = (kh, kw) == (1, 1) and (pt, pb, pl, pr) == (0, 0, 0, 0) and s == 1
        decoding = write_at is not None or pixel is not None or row is not None
        if decoding and not pointwise:
            if not self.has_variable("cache", "inputs"):
                raise ValueError("PixelCNN++ decoding needs a cache: run the model once on a full image with "
                                 "mutable=['cache'] first")
            cache = self.variable("cache", "inputs", None)
            cin = cache.value.shape[-1]
        else:
            cin = x.shape[-1]
        v = self.param("kernel", _KERNEL_INIT, (kh, kw, cin, self.features))
        if self.weight_norm:
            g = self.param("scale", nn.initializers.ones, (self.features,))
            v = v * (g / jnp.sqrt(jnp.sum(v ** 2, axis=(0, 1, 2)) + 1e-12))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        if pointwise:
            return jnp.einsum("...i,io->...o", x, v[0, 0]) + b
        dims = ("NHWC", "HWIO", "NHWC")
        if not decoding:
            if x.ndim != 4:
                raise ValueError(f"expected [N, H, W, C] input, got shape {x.shape}")
            xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
            if self.is_mutable_collection("cache"):
                self.variable("cache", "inputs", lambda: xp).value = xp
            return jax.lax.conv_general_dilated(xp, v, (s, s), "VALID", dimension_numbers=dims) + b
        xp = cache.value
        if write_at is not None:
            r, c = write_at
            xp = jax.lax.dynamic_update_slice(xp, x.astype(xp.dtype), (0, r + pt, c + pl, 0))
            cache.value = xp
        n = xp.shape[0]
        if pixel is not None:
            rr, cc = pixel
            patch = jax.lax.dynamic_slice(xp, (0, rr * s, cc * s, 0), (n, kh, kw, cin))
            return jnp.einsum("nhwi,hwio->no", patch, v) + b
        if row is not None:
            slab = jax.lax.dynamic_slice(xp, (0, row * s, 0, 0), (n, kh, xp.shape[2], cin))
            return jax.lax.conv_general_dilated(slab, v, (1, s), "VALID", dimension_numbers=dims)[:, 0] + b
        return None


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
    with f = concat_elu; 'down' blocks use (2 x 3) down-shifted convolutions, 'down_right' blocks (2 x 2)
    down-right-shifted ones."""
    features: int
    kind: str            # 'down' or 'down_right'
    dropout: float = 0.0
    weight_norm: bool = False

    def setup(self):
        conv, ks = (_down_conv, (2, 3)) if self.kind == "down" else (_down_right_conv, (2, 2))
        self.conv_in = conv(self.features, ks, wn=self.weight_norm)
        self.nin = _Conv(self.features, (1, 1), ((0, 0), (0, 0)), 1, self.weight_norm)
        self.conv_out = conv(2 * self.features, ks, wn=self.weight_norm)
        self.drop = nn.Dropout(self.dropout)

    @staticmethod
    def _gated(x, y):
        a, b = jnp.split(y, 2, axis=-1)
        return x + a * jax.nn.sigmoid(b)

    def __call__(self, x, aux=None, train: bool = False):
        y = self.conv_in(_concat_elu(x))
        if aux is not None:
            y = y + self.nin(_concat_elu(aux))
        y = self.drop(_concat_elu(y), deterministic=not train)
        return self._gated(x, self.conv_out(y))

    def decode(self, x, aux, r, c=None):
        """The block at one pixel (r, c), x and aux [N, F], or (c None) on one row r, x and aux [N, W, F]:
        stores the new inputs of both convolutions in their caches and computes only that output."""
        if c is None:
            where, at, patch = dict(row=r), (r, 0), (lambda t: t[:, None])
        else:
            where, at, patch = dict(pixel=(r, c)), (r, c), (lambda t: t[:, None, None])
        y = self.conv_in(patch(_concat_elu(x)), write_at=at, **where)
        if aux is not None:
            y = y + self.nin(_concat_elu(aux))
        return self._gated(x, self.conv_out(patch(_concat_elu(y)), write_at=at, **where))


class PixelCNNPlusPlus(nn.Module):
    """PixelCNN++ (Salimans et al. 2017): two shifted streams (u: the rows above; ul: above and to the
    left), gated resnets with concat_elu, `num_scales` stride-2 downsamplings with shortcut connections from
    every down-pass block to the matching up-pass block, dropout, optional weight normalization, and the
    discretized logistic mixture head (or a categorical head).

    Deviation, on purpose: upsampling is nearest-neighbour x2 followed by a shifted convolution instead of
    a shifted transposed convolution; both are learned stride-2 upsamplings and this form is causal by
    construction (each upsampled position copies a low-resolution position whose inputs all precede it).
    Height and width must be divisible by 2**num_scales.

    Cached decoding (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models",
    Sec. 3-4: each layer computes an output as soon as its inputs exist, strided layers less often). With
    (r, c) the full-resolution pixel about to be drawn and (R, C) = (r, c) // 2**s at scale s:
    * the u stream at scale s, row R, depends only on image rows before 2**s R. `decode_row` computes it,
      one row per layer, before image row r = 2**s R is drawn (scale 0 every row, scale s every 2**s rows);
    * the ul stream at scale s, position (R, C), depends only on pixels before (2**s R, 2**s C).
      `decode_pixel` computes it when pixel (r, c) = (2**s R, 2**s C) is drawn: every scale s with 2**s
      dividing both r and c, the down pass fine to coarse, then the up pass coarse to fine.
    Shortcuts join values of one scale and position computed in the same call; everything else goes
    through per-layer caches of padded input maps (`_Conv`). Each layer output is computed once per image,
    so drawing an image costs about one forward pass. The output at a pixel never depends on that pixel
    (the mixture couples its channels inside the head), so the sampler calls `decode_pixel` once per pixel.
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

    decode_per_channel = False          # (class constant) see the docstring

    def setup(self):
        f, wn, S, R = self.features, self.weight_norm, self.num_scales, self.num_resnet
        if R < 1 or S < 0:
            raise ValueError(f"PixelCNN++ needs num_resnet >= 1 and num_scales >= 0, got {R} and {S}")
        block = lambda kind: _GatedResnet(f, kind, self.dropout, wn)  # noqa: E731
        self.u_init = _down_conv(f, (2, 3), wn=wn)                 # shifted down one row
        self.ul_init_above = _down_conv(f, (1, 3), wn=wn)          # shifted down one row
        self.ul_init_left = _down_right_conv(f, (2, 1), wn=wn)     # shifted right one column
        self.down_u = [[block("down") for _ in range(R)] for _ in range(S + 1)]
        self.down_ul = [[block("down_right") for _ in range(R)] for _ in range(S + 1)]
        self.down_u_stride = [_down_conv(f, (2, 3), stride=2, wn=wn) for _ in range(S)]
        self.down_ul_stride = [_down_right_conv(f, (2, 2), stride=2, wn=wn) for _ in range(S)]
        self.up_u = [[block("down") for _ in range(self._num_up(s))] for s in range(S + 1)]
        self.up_ul = [[block("down_right") for _ in range(self._num_up(s))] for s in range(S + 1)]
        self.up_u_conv = [_down_conv(f, (2, 3), wn=wn) for _ in range(S)]       # on upsample(scale s + 1)
        self.up_ul_conv = [_down_right_conv(f, (2, 2), wn=wn) for _ in range(S)]
        out = _out_features(self.head, self.data_channels, self.num_levels, self.num_mixtures)
        self.out = _Conv(out, (1, 1), ((0, 0), (0, 0)), 1, wn)
        self.u_rows = [_RowCache() for _ in range(S + 1)]          # decoding: the u stream's current rows
        self.ul_above_row = _RowCache()

    def _num_up(self, s):
        """Up-pass blocks at scale s: one per down-pass value of that scale (R + 1), R at the coarsest,
        whose last down value is the up pass's input."""
        return self.num_resnet + (1 if s < self.num_scales else 0)

    def __call__(self, x, label=None, train: bool = False):
        _check_input(x, self.data_channels)
        S = self.num_scales
        if x.shape[1] % (2 ** S) or x.shape[2] % (2 ** S):
            raise ValueError(f"PixelCNN++ with num_scales={S} needs H and W divisible by {2 ** S}, "
                             f"got {x.shape[1:3]}")
        xp = jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], axis=-1)
        u = shift_down(self.u_init(xp))
        above = shift_down(self.ul_init_above(xp))
        ul = above + shift_right(self.ul_init_left(xp))
        du, dul = [], []                          # per scale: the down-pass values (shortcut sources)
        for s in range(S + 1):
            if s > 0:
                u, ul = self.down_u_stride[s - 1](u), self.down_ul_stride[s - 1](ul)
            du.append([u])
            dul.append([ul])
            for bu, bul in zip(self.down_u[s], self.down_ul[s]):
                u = bu(u, train=train)
                ul = bul(ul, u, train=train)
                du[s].append(u)
                dul[s].append(ul)
        for s in range(S, -1, -1):
            if s < S:
                u, ul = self.up_u_conv[s](_upsample(u)), self.up_ul_conv[s](_upsample(ul))
            n = self._num_up(s)
            for j, (bu, bul) in enumerate(zip(self.up_u[s], self.up_ul[s])):
                u = bu(u, du[s][n - 1 - j], train=train)
                ul = bul(ul, jnp.concatenate([u, dul[s][n - 1 - j]], axis=-1), train=train)
        if self.is_mutable_collection("cache"):
            self.ul_above_row(shape=above[:, 0].shape)
            for s in range(S + 1):
                self.u_rows[s](shape=(self.num_resnet + self._num_up(s),) + du[s][0][:, 0].shape)
        return self.out(jax.nn.elu(ul))

    # -- cached decoding ---------------------------------------------------------------------------------
    def _level(self, r, c=None):
        """The coarsest scale with a position at full-resolution row r (and column c): #{s >= 1: 2**s | r, c}."""
        level = jnp.int32(0)
        for s in range(1, self.num_scales + 1):
            ok = (r % (2 ** s)) == 0
            if c is not None:
                ok = ok & ((c % (2 ** s)) == 0)
            level = level + ok.astype(jnp.int32)
        return level

    def _u_down_row(self, s, u, R):
        rows = [u]
        for blk in self.down_u[s]:
            u = blk.decode(u, None, R)
            rows.append(u)
        if s < self.num_scales:
            self.down_u_stride[s](u[:, None], write_at=(R, 0))
        return rows

    def _u_up_row(self, s, R, downs):
        u = downs[-1] if s == self.num_scales else self.up_u_conv[s](row=R)
        n, ups = self._num_up(s), []
        for j, blk in enumerate(self.up_u[s]):
            u = blk.decode(u, downs[n - 1 - j], R)
            ups.append(u)
        self.u_rows[s](value=jnp.stack(downs[1:] + ups))
        if s > 0:
            self.up_u_conv[s - 1](_upsample(u[:, None]), write_at=(2 * R, 0))

    def _ul_down_pixel(self, s, ul, R, C):
        u_rows = self.u_rows[s]()
        vals = [ul]
        for j, blk in enumerate(self.down_ul[s]):
            ul = blk.decode(ul, u_rows[j][:, C], R, C)
            vals.append(ul)
        if s < self.num_scales:
            self.down_ul_stride[s](ul[:, None, None], write_at=(R, C))
        return vals

    def _ul_up_pixel(self, s, R, C, downs):
        ul = downs[-1] if s == self.num_scales else self.up_ul_conv[s](pixel=(R, C))
        u_rows, n = self.u_rows[s](), self._num_up(s)
        for j, blk in enumerate(self.up_ul[s]):
            aux = jnp.concatenate([u_rows[self.num_resnet + j][:, C], downs[n - 1 - j]], axis=-1)
            ul = blk.decode(ul, aux, R, C)
        if s > 0:
            self.up_ul_conv[s - 1](_upsample(ul[:, None, None]), write_at=(2 * R, 2 * C))
        return ul

    def _coarse(self, level, fn_down, fn_up, *args):
        """Scales 1..level (traced level), down pass fine to coarse then up pass coarse to fine."""
        def branch(k):
            def run(mdl, *args):
                downs = {s: fn_down(mdl, s, *args) for s in range(1, k + 1)}
                for s in range(k, 0, -1):
                    fn_up(mdl, s, downs[s], *args)
            return run
        if self.num_scales > 0:
            nn.switch(level, [branch(k) for k in range(self.num_scales + 1)], self, *args)

    def decode_row(self, x_row, r, label=None):
        """Before image row r is drawn: the u stream at every scale with a row there, given the finished
        image row r - 1 (x_row [N, W, C], scaled; ignored for r = 0)."""
        rp = jnp.maximum(r - 1, 0)
        xp = jnp.concatenate([x_row, jnp.ones(x_row.shape[:-1] + (1,), x_row.dtype)], axis=-1)[:, None]
        u = jnp.where(r > 0, self.u_init(xp, write_at=(rp, 0), row=rp), 0.0)
        self.ul_above_row(value=jnp.where(r > 0, self.ul_init_above(xp, write_at=(rp, 0), row=rp), 0.0))
        downs0 = self._u_down_row(0, u, r)

        def down(mdl, s, r):
            R = r // (2 ** s)
            return mdl._u_down_row(s, mdl.down_u_stride[s - 1](row=R), R)

        def up(mdl, s, downs, r):
            mdl._u_up_row(s, r // (2 ** s), downs)

        self._coarse(self._level(r), down, up, r)
        self._u_up_row(0, r, downs0)
        return None

    def decode_pixel(self, x_pix, r, c, label=None):
        """Outputs [N, P] at pixel (r, c) from the caches (x_pix is not used: see the class docstring)."""
        left = self.ul_init_left(pixel=(r, jnp.maximum(c - 1, 0)))
        ul = self.ul_above_row()[:, c] + jnp.where(c > 0, left, 0.0)
        downs0 = self._ul_down_pixel(0, ul, r, c)

        def down(mdl, s, r, c):
            R, C = r // (2 ** s), c // (2 ** s)
            return mdl._ul_down_pixel(s, mdl.down_ul_stride[s - 1](pixel=(R, C)), R, C)

        def up(mdl, s, downs, r, c):
            mdl._ul_up_pixel(s, r // (2 ** s), c // (2 ** s), downs)

        self._coarse(self._level(r, c), down, up, r, c)
        return self.out(jax.nn.elu(self._ul_up_pixel(0, r, c, downs0)))

    def decode_commit(self, x_pix, r, c, label=None):
        """Stores the finished pixel (x_pix [N, C], scaled) where the first ul convolution reads it (the
        u stream and the row above read whole finished rows in `decode_row`)."""
        xp = jnp.concatenate([x_pix, jnp.ones(x_pix.shape[:-1] + (1,), x_pix.dtype)], axis=-1)
        self.ul_init_left(xp[:, None, None], write_at=(r, c))


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
CACHED_MODELS = ("pixelcnn", "gated_pixelcnn", "pixelcnn_pp")


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

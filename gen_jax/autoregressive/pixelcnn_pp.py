"""PixelCNN++ (Salimans, Karpathy, Chen, Kingma 2017, "PixelCNN++", ICLR): down- and down-right-shifted
convolutions in two streams, gated residual blocks over several scales, a discretized logistic mixture head.

`_Conv` is the shifted convolution with optional weight normalization and a decoding mode: the cached sampler
computes one pixel (or one row) of every layer from per-layer caches.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from gen_jax.autoregressive.layers import _KERNEL_INIT, _RowCache, _check_input, _out_features
from gen_jax.nn.masked import shift_down, shift_right


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

"""Image-to-image layers shared by the translation models: the Pix2Pix U-Net, the CycleGAN ResNet generator
and the PatchGAN discriminator, with the helper that computes a PatchGAN's receptive field.

* `UNetGenerator` (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks",
  Sec. 3.2.1 and Appendix 6.1.1): encoder C64-C128-C256-C512-... of 4x4 stride-2 convolutions (LeakyReLU 0.2
  before every one but the first, a norm after every one but the first and the innermost), decoder of 4x4
  stride-2 transposed convolutions (ReLU before each, norm after each but the last, dropout 0.5 after the
  first `num_dropout` = 3 decoder layers: the generator's only noise, active at test time as well), the
  encoder's features at each resolution concatenated to the decoder's ("skip connections", layer i with layer
  n - i), tanh output. `skips=False` is the paper's "encoder-decoder" ablation (and DiscoGAN's generator).
  Images whose side is not a multiple of 2^num_downs are edge-padded to one and cropped back.
* `ResnetGenerator` (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
  Networks", Appendix 7.2, after Johnson et al. 2016): c7s1-64, d128, d256, R256 x num_blocks (6 for
  128x128, 9 for 256x256 images), u128, u64, c7s1-3 with reflection padding and instance normalisation.
* `PatchDiscriminator` (Isola et al. 2017, Sec. 3.2.2, Appendix 6.1.2): C64-C128-C256-C512 for the 70x70
  PatchGAN: `num_layers` 4x4 stride-2 convolutions, one 4x4 stride-1 convolution, and a 4x4 stride-1
  convolution to one logit per patch; `num_layers` = 1 is the 16x16 PatchGAN, 5 the 286x286 ImageGAN, 0 the
  1x1 PixelGAN. `receptive_field(num_layers)` gives the patch size; `num_layers_for_receptive_field` the
  depth for a configured patch size.

Norms: 'instance' (the paper's batch norm at batch size 1 with test-batch statistics, which is instance norm,
as the paper notes; CycleGAN's instance norm) or 'none'. No running statistics are kept, so every layer here
is a pure function of its parameters and one image. A convolution followed by a norm has no bias (the norm
removes it: its gradient is rounding noise, which Adam would amplify to full-size steps).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

NORMS = ("instance", "none")


def _check_norm(norm: str, where: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"{where}: unknown norm {norm!r}; expected one of {NORMS}")


def _norm(h, norm: str, name: str | None = None):
    if norm == "instance":
        return nn.InstanceNorm(epsilon=1e-5, name=name)(h)
    return h


def _check_image(x, where: str):
    if x.ndim != 4:
        raise ValueError(f"{where} expects images [batch, height, width, channels], got shape {x.shape}")


def reflect_pad(x, p: int):
    """Reflection padding of the two spatial axes of [B, H, W, C] by p pixels (CycleGAN's padding)."""
    if p == 0:
        return x
    if p >= min(x.shape[1], x.shape[2]):
        raise ValueError(f"reflect_pad: padding {p} needs images larger than {p} pixels, got {x.shape[1:3]}")
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


class UNetGenerator(nn.Module):
    """The Pix2Pix U-Net (see the module docstring): [B, H, W, C_in] in [-1, 1] -> [B, H, W, out_channels].

    `dropout_rng`-style noise: call with `dropout=True` (training, and testing as in the paper) and a
    'dropout' rng; `dropout=False` gives the deterministic net. `cut_bottleneck` zeroes the innermost
    features, a test hook: with skips the output still depends on the input, without them it cannot."""

    out_channels: int
    features: int = 64
    num_downs: int = 5
    max_features: int = 512
    dropout_rate: float = 0.5
    num_dropout: int = 3
    norm: str = "instance"
    skips: bool = True
    cut_bottleneck: bool = False

    @nn.compact
    def __call__(self, x, dropout: bool = False):
        _check_image(x, "UNetGenerator")
        _check_norm(self.norm, "UNetGenerator")
        n = int(self.num_downs)
        if n < 1:
            raise ValueError(f"UNetGenerator: num_downs must be >= 1, got {n}")
        h0, w0 = x.shape[1:3]
        m = 2 ** n
        ph, pw = (-h0) % m, (-w0) % m
        if ph or pw:   # edge-pad to a multiple of 2^n (cropped back at the end)
            x = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="edge")
        widths = [min(self.features * 2 ** i, self.max_features) for i in range(n)]
        down = dict(kernel_size=(4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))
        enc, h = [], x
        for i in range(n):
            if i > 0:
                h = nn.leaky_relu(h, 0.2)
            normed = 0 < i < n - 1 and self.norm != "none"
            h = nn.Conv(widths[i], use_bias=not normed, name=f"down{i}", **down)(h)
            if normed:
                h = _norm(h, self.norm, name=f"down_norm{i}")
            enc.append(h)
        d = enc[-1] * 0.0 if self.cut_bottleneck else enc[-1]
        for j, i in enumerate(reversed(range(n))):     # j: decoder layer index from the innermost
            ch = widths[i - 1] if i > 0 else self.out_channels
            h = nn.ConvTranspose(ch, (4, 4), strides=(2, 2), padding="SAME", use_bias=i == 0 or self.norm == "none",
                                 name=f"up{i}")(nn.relu(d))
            if i == 0:
                out = jnp.tanh(h)
                break
            h = _norm(h, self.norm, name=f"up_norm{i}")
            if j < self.num_dropout and self.dropout_rate > 0:
                h = nn.Dropout(self.dropout_rate)(h, deterministic=not dropout)
            d = jnp.concatenate([enc[i - 1], h], axis=-1) if self.skips else h
        if ph or pw:
            out = out[:, ph // 2:ph // 2 + h0, pw // 2:pw // 2 + w0]
        return out


class ResidualBlock(nn.Module):
    """x + IN(conv3x3(reflect(ReLU(IN(conv3x3(reflect(x))))))) (Zhu et al. 2017, Appendix 7.2: R256)."""

    norm: str = "instance"

    @nn.compact
    def __call__(self, x):
        c, bias = x.shape[-1], self.norm == "none"
        h = nn.Conv(c, (3, 3), padding="VALID", use_bias=bias)(reflect_pad(x, 1))
        h = nn.relu(_norm(h, self.norm))
        h = nn.Conv(c, (3, 3), padding="VALID", use_bias=bias)(reflect_pad(h, 1))
        return x + _norm(h, self.norm)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator (see the module docstring): [B, H, W, C] in [-1, 1] -> [B, H, W, out_channels];
    H and W must be multiples of 2^num_downsamples."""

    out_channels: int
    features: int = 64
    num_blocks: int = 9
    num_downsamples: int = 2
    norm: str = "instance"

    @nn.compact
    def __call__(self, x):
        _check_image(x, "ResnetGenerator")
        _check_norm(self.norm, "ResnetGenerator")
        m = 2 ** self.num_downsamples
        if x.shape[1] % m or x.shape[2] % m:
            raise ValueError(f"ResnetGenerator: image size {x.shape[1:3]} is not a multiple of 2^num_downsamples"
                             f"={m}")
        bias = self.norm == "none"
        h = nn.Conv(self.features, (7, 7), padding="VALID", use_bias=bias, name="c7s1_in")(reflect_pad(x, 3))
        h = nn.relu(_norm(h, self.norm))
        for i in range(self.num_downsamples):
            h = nn.Conv(self.features * 2 ** (i + 1), (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                        use_bias=bias, name=f"d{i}")(h)
            h = nn.relu(_norm(h, self.norm))
        for b in range(self.num_blocks):
            h = ResidualBlock(self.norm, name=f"R{b}")(h)
        for i in reversed(range(self.num_downsamples)):
            h = nn.ConvTranspose(self.features * 2 ** i, (3, 3), strides=(2, 2), padding="SAME", use_bias=bias,
                                 name=f"u{i}")(h)
            h = nn.relu(_norm(h, self.norm))
        h = nn.Conv(self.out_channels, (7, 7), padding="VALID", name="c7s1_out")(reflect_pad(h, 3))
        return jnp.tanh(h)


def patchgan_layers(num_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each convolution of the PatchGAN with `num_layers` stride-2 convolutions."""
    if num_layers < 0:
        raise ValueError(f"PatchGAN num_layers must be >= 0, got {num_layers}")
    if num_layers == 0:
        return [(1, 1), (1, 1), (1, 1)]           # the PixelGAN
    return [(4, 2)] * num_layers + [(4, 1), (4, 1)]


def receptive_field_of(layers) -> int:
    """Receptive field of a stack of convolutions [(kernel, stride), ...]: 1 + sum_i (k_i - 1) prod_{j<i} s_j."""
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


def receptive_field(num_layers: int) -> int:
    """The patch size of the PatchGAN with `num_layers` stride-2 convolutions (3 -> 70, 1 -> 16, 0 -> 1)."""
    return receptive_field_of(patchgan_layers(num_layers))


def num_layers_for_receptive_field(size: int, max_layers: int = 8) -> int:
    """The PatchGAN depth whose receptive field is `size` pixels (70 -> 3); an error lists the sizes there are."""
    sizes = {receptive_field(n): n for n in range(max_layers + 1)}
    if int(size) not in sizes:
        raise ValueError(f"no PatchGAN has a {size}x{size} receptive field; the sizes are "
                         f"{', '.join(str(s) for s in sorted(sizes))} (num_layers 0..{max_layers})")
    return sizes[int(size)]


class PatchDiscriminator(nn.Module):
    """PatchGAN: [B, H, W, C] -> [B, h, w] logits, one per (overlapping) receptive_field(num_layers) patch."""

    features: int = 64
    num_layers: int = 3
    max_features: int = 512
    norm: str = "instance"

    @nn.compact
    def __call__(self, x):
        _check_image(x, "PatchDiscriminator")
        _check_norm(self.norm, "PatchDiscriminator")
        layers = patchgan_layers(self.num_layers)
        pad = 1 if self.num_layers else 0
        h = x
        for i, (k, s) in enumerate(layers):
            last = i == len(layers) - 1
            ch = 1 if last else min(self.features * 2 ** i, self.max_features)
            normed = 0 < i and not last and self.norm != "none"
            h = nn.Conv(ch, (k, k), strides=(s, s), padding=((pad, pad), (pad, pad)), use_bias=not normed,
                        name=f"conv{i}")(h)
            if last:
                break
            if normed:
                h = _norm(h, self.norm, name=f"norm{i}")
            h = nn.leaky_relu(h, 0.2)
        if h.shape[1] < 1 or h.shape[2] < 1:
            raise ValueError(f"PatchDiscriminator: images {x.shape[1:3]} are too small for num_layers="
                             f"{self.num_layers}")
        return h[..., 0]

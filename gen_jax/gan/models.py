"""GAN networks (Flax linen): MLPs for 2-D points and small images, DCGAN, conditional variants, packing.

No training logic here. Every discriminator returns one logit (or critic value) per example, shape [B].

* MLP generator / discriminator (Goodfellow et al. 2014 used MLPs; the 2-D mode-coverage benchmarks of
  VEEGAN and PacGAN use small MLPs too).
* DCGAN (Radford et al. 2015): an all-convolutional generator of fractionally-strided (transposed)
  convolutions with batch norm and ReLU and a tanh output; a discriminator of strided convolutions with
  LeakyReLU(0.2) and batch norm (none on its first layer). Sized by `image_size` (8, 28 or 32...).
* Conditioning (Mirza & Osindero 2014): the label enters both players, as a learned embedding or a one-hot
  vector concatenated to z and to the discriminator's input; or, for the discriminator, by projection
  (Miyato & Koyama 2018): logit = psi(phi(x)) + <embed(y), phi(x)>.
* Spectral normalisation of the discriminator's weights (Miyato et al. 2018) with `flax.linen.SpectralNorm`;
  its power-iteration vectors live in the 'batch_stats' collection and are updated when `train=True`.
* PacGAN packing (Lin et al. 2018): `pack(x, m)` concatenates m samples into one discriminator input.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

_CONDITIONINGS = ("embed", "onehot")
_D_CONDITIONINGS = ("embed", "onehot", "projection")


def pack(x, m: int):
    """PacGAN packing: groups of m consecutive examples become one example with m times the features.

    [B, D] -> [B/m, m*D]; [B, H, W, C] -> [B/m, H, W, m*C] (packed along channels, as in Lin et al. 2018).
    """
    if m == 1:
        return x
    b = x.shape[0]
    if b % m:
        raise ValueError(f"pack: batch size {b} is not divisible by the packing degree {m}")
    x = x.reshape((b // m, m) + x.shape[1:])
    if x.ndim == 3:
        return x.reshape(b // m, -1)
    x = jnp.moveaxis(x, 1, -2)  # [B/m, H, W, m, C]
    return x.reshape(x.shape[:-2] + (-1,))


def _check_labels(name, y, num_classes, batch):
    if num_classes and y is None:
        raise ValueError(f"{name} is conditional on {num_classes} classes: pass labels y [batch]")
    if y is not None and (y.ndim != 1 or y.shape[0] != batch):
        raise ValueError(f"{name}: labels must be [batch]={batch}, got shape {y.shape}")


def _label_features(y, num_classes, conditioning, embed_dim, name):
    if conditioning == "onehot":
        return jax.nn.one_hot(y, num_classes)
    if conditioning == "embed":
        return nn.Embed(num_classes, embed_dim, name=name)(y)
    raise ValueError(f"unknown conditioning {conditioning!r}; expected one of {_D_CONDITIONINGS}")


class _MaybeSN(nn.Module):
    """Wraps a layer in spectral normalisation when `enabled`."""
    layer: nn.Module
    enabled: bool = False

    @nn.compact
    def __call__(self, x, train: bool):
        if self.enabled:
            return nn.SpectralNorm(self.layer)(x, update_stats=train)
        return self.layer(x)


class MLPGenerator(nn.Module):
    """z [B, L] (and labels [B]) -> samples of `out_shape`.

    Attributes:
      out_shape: per-example output shape, e.g. (2,) or (8, 8, 1).
      features: hidden widths.
      batch_norm: batch norm after each hidden layer.
      out_activation: 'none' (2-D data) or 'tanh' (images in [-1, 1]).
      num_classes: 0 for unconditional.
      conditioning: 'embed' or 'onehot' (concatenated to z).
    """
    out_shape: Sequence[int]
    features: Sequence[int] = (128, 128)
    batch_norm: bool = False
    out_activation: str = "none"
    num_classes: int = 0
    conditioning: str = "embed"
    embed_dim: int = 16

    @nn.compact
    def __call__(self, z, y=None, train: bool = True):
        _check_labels("MLPGenerator", y, self.num_classes, z.shape[0])
        h = z
        if self.num_classes:
            h = jnp.concatenate([h, _label_features(y, self.num_classes, self.conditioning, self.embed_dim,
                                                    "label_embed")], -1)
        for f in self.features:
            h = nn.Dense(f, use_bias=not self.batch_norm)(h)  # BN removes a bias
            if self.batch_norm:
                h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
            h = nn.relu(h)
        size = 1
        for s in self.out_shape:
            size *= s
        h = nn.Dense(size)(h)
        h = _output_activation(h, self.out_activation)
        return h.reshape((z.shape[0],) + tuple(self.out_shape))


def _output_activation(h, name):
    if name == "none":
        return h
    if name == "tanh":
        return jnp.tanh(h)
    raise ValueError(f"unknown generator out_activation {name!r}; expected 'none' or 'tanh'")


class MLPDiscriminator(nn.Module):
    """x [B, ...] (and labels [B]) -> logits [B]. LeakyReLU(0.2) hidden layers, optional spectral norm.

    Attributes:
      features: hidden widths.
      spectral_norm: normalise every Dense layer's weights.
      num_classes: 0 for unconditional.
      conditioning: 'embed' / 'onehot' (concatenated to x) or 'projection' (Miyato & Koyama 2018).
    """
    features: Sequence[int] = (128, 128)
    spectral_norm: bool = False
    num_classes: int = 0
    conditioning: str = "embed"
    embed_dim: int = 16

    @nn.compact
    def __call__(self, x, y=None, train: bool = True):
        _check_labels("MLPDiscriminator", y, self.num_classes, x.shape[0])
        h = x.reshape(x.shape[0], -1)
        if self.num_classes and self.conditioning != "projection":
            h = jnp.concatenate([h, _label_features(y, self.num_classes, self.conditioning, self.embed_dim,
                                                    "label_embed")], -1)
        for f in self.features:
            h = nn.leaky_relu(_MaybeSN(nn.Dense(f), self.spectral_norm)(h, train), 0.2)
        out = _MaybeSN(nn.Dense(1), self.spectral_norm)(h, train)[:, 0]
        if self.num_classes and self.conditioning == "projection":
            out = out + jnp.sum(nn.Embed(self.num_classes, h.shape[-1], name="projection")(y) * h, -1)
        return out


def dcgan_num_upsamples(image_size: int, max_upsamples: int = 3) -> int:
    """How many stride-2 stages DCGAN uses: the most (up to `max_upsamples`) that leave a base of >= 2 pixels.

    8 -> 2 (2x2 base), 28 -> 2 (7x7 base), 32 -> 3 (4x4 base), 64 -> 3 (8x8 base).
    """
    n = 0
    while n < max_upsamples and image_size % (2 ** (n + 1)) == 0 and image_size // 2 ** (n + 1) >= 2:
        n += 1
    if n == 0:
        raise ValueError(f"DCGAN: image size {image_size} cannot be halved to a base of >= 2 pixels")
    return n


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2015): project z to a base x base x (F 2^(n-1)) map, then n transposed
    convolutions (kernel 4, stride 2), batch norm + ReLU between them, tanh at the output.

    Attributes:
      image_size: side of the square output; channels: its channels; features: F, the last hidden width.
      num_classes / conditioning / embed_dim: label conditioning concatenated to z (Mirza & Osindero 2014).
    """
    image_size: int = 32
    channels: int = 1
    features: int = 64
    num_classes: int = 0
    conditioning: str = "embed"
    embed_dim: int = 16

    @nn.compact
    def __call__(self, z, y=None, train: bool = True):
        _check_labels("DCGANGenerator", y, self.num_classes, z.shape[0])
        n = dcgan_num_upsamples(self.image_size)
        base = self.image_size // 2 ** n
        h = z
        if self.num_classes:
            h = jnp.concatenate([h, _label_features(y, self.num_classes, self.conditioning, self.embed_dim,
                                                    "label_embed")], -1)
        width = self.features * 2 ** (n - 1)
        h = nn.Dense(base * base * width, use_bias=False)(h).reshape(z.shape[0], base, base, width)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        for i in range(n - 1):
            width //= 2
            h = nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME", use_bias=False)(h)
            h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        h = nn.ConvTranspose(self.channels, (4, 4), strides=(2, 2), padding="SAME")(h)
        return jnp.tanh(h)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: n strided convolutions (kernel 4, stride 2) doubling the width from F, LeakyReLU(0.2),
    normalisation on all but the first, then one linear logit.

    Attributes:
      image_size: side of the square input (sets n as in the generator); features: F.
      norm: 'batch' (DCGAN), 'layer' (for WGAN-GP, whose penalty is per example) or 'none'.
      spectral_norm: spectral normalisation of every conv/dense weight.
      num_classes / conditioning: 'onehot'/'embed' (label maps concatenated as input channels) or
        'projection' (inner product of a class embedding with the pooled features).
    """
    image_size: int = 32
    features: int = 64
    norm: str = "batch"
    spectral_norm: bool = False
    num_classes: int = 0
    conditioning: str = "onehot"
    embed_dim: int = 16

    @nn.compact
    def __call__(self, x, y=None, train: bool = True):
        _check_labels("DCGANDiscriminator", y, self.num_classes, x.shape[0])
        if x.ndim != 4:
            raise ValueError(f"DCGANDiscriminator: expected images [B, H, W, C], got shape {x.shape}")
        n = dcgan_num_upsamples(self.image_size)
        h = x
        if self.num_classes and self.conditioning != "projection":
            lab = _label_features(y, self.num_classes, self.conditioning, self.embed_dim, "label_embed")
            lab = jnp.broadcast_to(lab[:, None, None, :], x.shape[:3] + (lab.shape[-1],))
            h = jnp.concatenate([h, lab], -1)
        width = self.features
        for i in range(n):
            # no bias before batch norm: BN removes it, its gradient is exactly zero and Adam would turn the
            # round-off of that zero into full-size updates
            bias = not (i > 0 and self.norm == "batch")
            h = _MaybeSN(nn.Conv(width, (4, 4), strides=(2, 2), padding="SAME", use_bias=bias),
                         self.spectral_norm)(h, train)
            if i > 0:
                h = _normalize(h, self.norm, train)
            h = nn.leaky_relu(h, 0.2)
            width *= 2
        h = h.reshape(h.shape[0], -1)
        out = _MaybeSN(nn.Dense(1), self.spectral_norm)(h, train)[:, 0]
        if self.num_classes and self.conditioning == "projection":
            out = out + jnp.sum(nn.Embed(self.num_classes, h.shape[-1], name="projection")(y) * h, -1)
        return out


def _normalize(h, norm, train):
    if norm == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
    if norm == "layer":
        return nn.LayerNorm()(h)
    if norm == "none":
        return h
    raise ValueError(f"unknown discriminator norm {norm!r}; expected 'batch', 'layer' or 'none'")


def build_models(model_cfg, data_shape, num_classes: int):
    """(generator, discriminator) modules from `config.model`.

    Keys: arch ('mlp' | 'dcgan'), latent_dim, g_features / d_features (tuples for mlp, ints for dcgan),
    g_batch_norm (mlp), d_norm (dcgan), spectral_norm, conditional, conditioning, d_conditioning, embed_dim,
    pack (the discriminator of an MLP sees `pack` samples; for images channels multiply).
    """
    arch = model_cfg.get("arch", "mlp")
    ncls = num_classes if model_cfg.get("conditional", False) else 0
    cond = model_cfg.get("conditioning", "embed")
    d_cond = model_cfg.get("d_conditioning", cond)
    if cond not in _CONDITIONINGS:
        raise ValueError(f"unknown model.conditioning {cond!r}; expected one of {_CONDITIONINGS}")
    if d_cond not in _D_CONDITIONINGS:
        raise ValueError(f"unknown model.d_conditioning {d_cond!r}; expected one of {_D_CONDITIONINGS}")
    if ncls and model_cfg.get("pack", 1) > 1:
        raise ValueError("packing (model.pack > 1) is not defined for conditional GANs in this library")
    emb = model_cfg.get("embed_dim", 16)
    sn = model_cfg.get("spectral_norm", False)
    if arch == "mlp":
        out_act = model_cfg.get("out_activation", "tanh" if len(data_shape) == 3 else "none")
        g = MLPGenerator(out_shape=tuple(data_shape), features=tuple(model_cfg.get("g_features", (128, 128))),
                         batch_norm=model_cfg.get("g_batch_norm", False), out_activation=out_act,
                         num_classes=ncls, conditioning=cond, embed_dim=emb)
        d = MLPDiscriminator(features=tuple(model_cfg.get("d_features", (128, 128))), spectral_norm=sn,
                             num_classes=ncls, conditioning=d_cond, embed_dim=emb)
    elif arch == "dcgan":
        if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
            raise ValueError(f"DCGAN needs square images [H, W, C], got per-example shape {tuple(data_shape)}")
        g = DCGANGenerator(image_size=data_shape[0], channels=data_shape[2], features=model_cfg.get("g_features", 64),
                           num_classes=ncls, conditioning=cond, embed_dim=emb)
        d = DCGANDiscriminator(image_size=data_shape[0], features=model_cfg.get("d_features", 64),
                               norm=model_cfg.get("d_norm", "batch"), spectral_norm=sn, num_classes=ncls,
                               conditioning=d_cond if d_cond != "embed" else "embed", embed_dim=emb)
    else:
        raise ValueError(f"unknown model.arch {arch!r}; expected 'mlp' or 'dcgan'")
    return g, d

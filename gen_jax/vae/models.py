"""VAE networks (Flax linen): encoders give the mean and log-variance of q(z|x), decoders the parameters
of p(x|z). Pure modules: no training logic, no randomness inside (the losses draw z).

Decoders output `params_per_dim` numbers per data dimension, as chosen by the likelihood:
  bernoulli -> 1 logit; categorical over K levels -> K logits; gaussian -> 2 (mean, log-variance).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import flax.linen as nn
import jax.numpy as jnp


class MLPEncoder(nn.Module):
    """x -> hidden layers -> (mu, log sigma^2): the encoder of Kingma & Welling (2014), Appendix C.2."""

    hidden: Sequence[int]
    latent_dim: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        act = getattr(nn, self.activation)
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        mean = nn.Dense(self.latent_dim, name="mean")(h)
        logvar = nn.Dense(self.latent_dim, name="logvar")(h)
        return mean, logvar


class MLPDecoder(nn.Module):
    """z -> hidden layers -> distribution parameters shaped [B, *data_shape, params_per_dim]."""

    hidden: Sequence[int]
    data_shape: Tuple[int, ...]
    params_per_dim: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, z):
        act = getattr(nn, self.activation)
        h = z
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        size = 1
        for d in self.data_shape:
            size *= d
        out = nn.Dense(size * self.params_per_dim)(h)
        return out.reshape((z.shape[0],) + tuple(self.data_shape) + (self.params_per_dim,))


class ConvEncoder(nn.Module):
    """Strided 3x3 convolutions (each halves H and W) then a dense layer to (mu, log sigma^2)."""

    features: Sequence[int]
    latent_dim: int
    hidden: int = 256

    @nn.compact
    def __call__(self, x):
        if x.ndim != 4:
            raise ValueError(f"ConvEncoder expects [B, H, W, C] images, got shape {x.shape}")
        h = x
        for f in self.features:
            h = nn.gelu(nn.Conv(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        h = nn.gelu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.latent_dim, name="mean")(h), nn.Dense(self.latent_dim, name="logvar")(h)


class ConvDecoder(nn.Module):
    """Dense to a [H/2^L, W/2^L, features[0]] map, L transposed convolutions that double H and W, then a 3x3
    convolution to `params_per_dim * C` channels, reshaped to [B, H, W, C, params_per_dim]."""

    features: Sequence[int]
    data_shape: Tuple[int, int, int]
    params_per_dim: int
    hidden: int = 256

    @nn.compact
    def __call__(self, z):
        height, width, channels = self.data_shape
        scale = 2 ** len(self.features)
        if height % scale or width % scale:
            raise ValueError(f"ConvDecoder with {len(self.features)} upsamplings needs H and W divisible by "
                             f"{scale}; got image shape {self.data_shape}")
        h0, w0 = height // scale, width // scale
        h = nn.gelu(nn.Dense(self.hidden)(z))
        h = nn.gelu(nn.Dense(h0 * w0 * self.features[0])(h)).reshape(z.shape[0], h0, w0, self.features[0])
        for f in self.features:
            h = nn.gelu(nn.ConvTranspose(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        out = nn.Conv(channels * self.params_per_dim, (3, 3), padding="SAME")(h)
        return out.reshape((z.shape[0], height, width, channels, self.params_per_dim))


class VAE(nn.Module):
    """An encoder and a decoder; `__call__` runs both on a given z so that `init` creates every parameter."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def __call__(self, x, z):
        return self.encoder(x), self.decoder(z)


def make_vae(model_cfg, data_shape, params_per_dim: int) -> VAE:
    """Builds the VAE named by `model_cfg.arch` ('mlp' or 'conv') for data of `data_shape`."""
    data_shape = tuple(int(d) for d in data_shape)
    if model_cfg.arch == "mlp":
        enc = MLPEncoder(tuple(model_cfg.hidden), model_cfg.latent_dim)
        dec = MLPDecoder(tuple(reversed(model_cfg.hidden)), data_shape, params_per_dim)
    elif model_cfg.arch == "conv":
        if len(data_shape) != 3:
            raise ValueError(f"the conv VAE needs image data [H, W, C], got per-example shape {data_shape}")
        enc = ConvEncoder(tuple(model_cfg.features), model_cfg.latent_dim)
        dec = ConvDecoder(tuple(reversed(model_cfg.features)), data_shape, params_per_dim)
    else:
        raise ValueError(f"unknown VAE arch {model_cfg.arch!r}; expected 'mlp' or 'conv'")
    return VAE(enc, dec)

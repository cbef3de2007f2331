"""VAE networks (Flax linen): encoders give the mean and log-variance of q(z|x), decoders the parameters
of p(x|z). Pure modules: no training logic, no randomness inside (the losses draw z).

Decoders output `params_per_dim` numbers per data dimension, as chosen by the likelihood:
  bernoulli -> 1 logit; categorical over K levels -> K logits; gaussian -> 2 (mean, log-variance).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLPEncoder(nn.Module):
    """x -> hidden layers -> (mu, log sigma^2): the encoder of Kingma & Welling (2014), Appendix C.2."""

    hidden: Sequence[int]
    latent_dim: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x, cond=None):
        act = getattr(nn, self.activation)
        h = x.reshape(x.shape[0], -1)
        if cond is not None:
            h = jnp.concatenate([h, cond], -1)
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
    def __call__(self, z, cond=None):
        act = getattr(nn, self.activation)
        h = z if cond is None else jnp.concatenate([z, cond], -1)
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
    def __call__(self, x, cond=None):
        if x.ndim != 4:
            raise ValueError(f"ConvEncoder expects [B, H, W, C] images, got shape {x.shape}")
        h = x
        for f in self.features:
            h = nn.gelu(nn.Conv(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        h = h.reshape(h.shape[0], -1)
        if cond is not None:
            h = jnp.concatenate([h, cond], -1)
        h = nn.gelu(nn.Dense(self.hidden)(h))
        return nn.Dense(self.latent_dim, name="mean")(h), nn.Dense(self.latent_dim, name="logvar")(h)


class ConvDecoder(nn.Module):
    """Dense to a [H/2^L, W/2^L, features[0]] map, L transposed convolutions that double H and W, then a 3x3
    convolution to `params_per_dim * C` channels, reshaped to [B, H, W, C, params_per_dim]."""

    features: Sequence[int]
    data_shape: Tuple[int, int, int]
    params_per_dim: int
    hidden: int = 256

    @nn.compact
    def __call__(self, z, cond=None):
        height, width, channels = self.data_shape
        scale = 2 ** len(self.features)
        if height % scale or width % scale:
            raise ValueError(f"ConvDecoder with {len(self.features)} upsamplings needs H and W divisible by "
                             f"{scale}; got image shape {self.data_shape}")
        h0, w0 = height // scale, width // scale
        h = nn.gelu(nn.Dense(self.hidden)(z if cond is None else jnp.concatenate([z, cond], -1)))
        h = nn.gelu(nn.Dense(h0 * w0 * self.features[0])(h)).reshape(z.shape[0], h0, w0, self.features[0])
        for f in self.features:
            h = nn.gelu(nn.ConvTranspose(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        out = nn.Conv(channels * self.params_per_dim, (3, 3), padding="SAME")(h)
        return out.reshape((z.shape[0], height, width, channels, self.params_per_dim))


class VAE(nn.Module):
    """An encoder and a decoder; `__call__` runs both on a given z so that `init` creates every parameter.

    With `num_classes > 0` it is the conditional VAE (Sohn, Lee & Yan 2015): q(z|x, y) and p(x|z, y) both
    see the one-hot label y, concatenated to the encoder's features and to z.
    """

    encoder: nn.Module
    decoder: nn.Module
    num_classes: int = 0

    def _cond(self, y):
        if not self.num_classes:
            return None
        if y is None:
            raise ValueError("a conditional VAE needs labels y")
        return jax.nn.one_hot(y, self.num_classes)

    def encode(self, x, y=None):
        return self.encoder(x, self._cond(y))

    def decode(self, z, y=None):
        return self.decoder(z, self._cond(y))

    def __call__(self, x, z, y=None):
        return self.encode(x, y), self.decode(z, y)


def make_vae(model_cfg, data_shape, params_per_dim: int, num_classes: int = 0) -> VAE:
    """Builds the VAE named by `model_cfg.arch` ('mlp' or 'conv') for data of `data_shape`.

    `num_classes > 0` makes it conditional on a label."""
    data_shape = tuple(int(d) for d in data_shape)
    if model_cfg.arch == "mlp":
        act = model_cfg.get("activation", "relu")
        enc = MLPEncoder(tuple(model_cfg.hidden), model_cfg.latent_dim, activation=act)
        dec = MLPDecoder(tuple(reversed(model_cfg.hidden)), data_shape, params_per_dim, activation=act)
    elif model_cfg.arch == "conv":
        if len(data_shape) != 3:
            raise ValueError(f"the conv VAE needs image data [H, W, C], got per-example shape {data_shape}")
        enc = ConvEncoder(tuple(model_cfg.features), model_cfg.latent_dim)
        dec = ConvDecoder(tuple(reversed(model_cfg.features)), data_shape, params_per_dim)
    else:
        raise ValueError(f"unknown VAE arch {model_cfg.arch!r}; expected 'mlp' or 'conv'")
    return VAE(enc, dec, num_classes=int(num_classes))

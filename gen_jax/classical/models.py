"""The deterministic autoencoder (Flax linen): an encoder x -> code and a decoder code -> reconstruction logits.

An autoencoder learns f = decode o encode with f(x) ~ x through a bottleneck (Hinton & Salakhutdinov 2006;
Bengio et al. 2007); without noise or a prior on the code it is not a density model, but its code is a learned
feature: the tests and experiments reuse the encoder as a feature extractor for a linear classifier.

Decoders return logits of the same shape as the input image; `reconstruct` maps them to [0, 1] with a sigmoid.
Pure modules: no training logic, no randomness.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import flax.linen as nn
import jax


class MLPEncoder(nn.Module):
    """Flatten -> Dense+ReLU hidden layers -> linear code of size `code_dim`."""

    hidden: Sequence[int]
    code_dim: int

    @nn.compact
    def __call__(self, x):
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        return nn.Dense(self.code_dim, name="code")(h)


class MLPDecoder(nn.Module):
    """Code -> Dense+ReLU hidden layers -> one logit per data dimension, shaped like the data."""

    hidden: Sequence[int]
    data_shape: Tuple[int, ...]

    @nn.compact
    def __call__(self, code):
        h = code
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        size = 1
        for d in self.data_shape:
            size *= d
        return nn.Dense(size)(h).reshape((code.shape[0],) + tuple(self.data_shape))


class ConvEncoder(nn.Module):
    """Strided 3x3 convolutions (each halves H and W, GELU) -> linear code."""

    features: Sequence[int]
    code_dim: int

    @nn.compact
    def __call__(self, x):
        if x.ndim != 4:
            raise ValueError(f"ConvEncoder expects images [B, H, W, C]; got shape {x.shape}")
        h = x
        for f in self.features:
            h = nn.gelu(nn.Conv(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        return nn.Dense(self.code_dim, name="code")(h.reshape(h.shape[0], -1))


class ConvDecoder(nn.Module):
    """Linear map to a [H/2^L, W/2^L, features[0]] grid, L stride-2 transposed convolutions, 3x3 conv to C logits."""

    features: Sequence[int]
    data_shape: Tuple[int, int, int]

    @nn.compact
    def __call__(self, code):
        height, width, channels = self.data_shape
        scale = 2 ** len(self.features)
        if height % scale or width % scale:
            raise ValueError(f"ConvDecoder with {len(self.features)} upsamplings needs H and W divisible by {scale};"
                             f" got image shape {self.data_shape}")
        h = nn.gelu(nn.Dense((height // scale) * (width // scale) * self.features[0])(code))
        h = h.reshape(code.shape[0], height // scale, width // scale, self.features[0])
        for f in self.features:
            h = nn.gelu(nn.ConvTranspose(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        return nn.Conv(channels, (3, 3), padding="SAME")(h)


class Autoencoder(nn.Module):
    """encoder and decoder; `__call__(x)` returns the reconstruction logits decode(encode(x))."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x):
        return self.encoder(x)

    def decode(self, code):
        return self.decoder(code)

    def __call__(self, x):
        return self.decoder(self.encoder(x))


def reconstruct(logits):
    """Reconstruction in [0, 1] from decoder logits."""
    return jax.nn.sigmoid(logits)


def make_autoencoder(model_cfg, data_shape) -> Autoencoder:
    """The autoencoder named by `model_cfg.arch` ('mlp' | 'conv'), code size `model_cfg.code_dim`."""
    data_shape = tuple(int(d) for d in data_shape)
    if model_cfg.code_dim < 1:
        raise ValueError(f"model.code_dim must be >= 1; got {model_cfg.code_dim}")
    if model_cfg.arch == "mlp":
        hidden = tuple(model_cfg.hidden)
        return Autoencoder(MLPEncoder(hidden, model_cfg.code_dim), MLPDecoder(tuple(reversed(hidden)), data_shape))
    if model_cfg.arch == "conv":
        if len(data_shape) != 3:
            raise ValueError(f"the conv autoencoder needs image data [H, W, C]; got per-example shape {data_shape}")
        feats = tuple(model_cfg.features)
        scale = 2 ** len(feats)
        if data_shape[0] % scale or data_shape[1] % scale:
            raise ValueError(f"the conv autoencoder with {len(feats)} stride-2 layers needs H and W divisible by "
                             f"{scale}; got image shape {data_shape}")
        return Autoencoder(ConvEncoder(feats, model_cfg.code_dim), ConvDecoder(tuple(reversed(feats)), data_shape))
    raise ValueError(f"unknown autoencoder arch {model_cfg.arch!r}; expected 'mlp' or 'conv'")

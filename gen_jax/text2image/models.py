"""Networks of the text- and tag-conditioned GANs (Flax linen). No training logic here.

* `TextEncoder`: Reed et al. 2016a's word-CNN-RNN ("Learning Deep Representations of Fine-grained Visual
  Descriptions", Sec. 3.2), the word-level sibling of their char-CNN-RNN: word embeddings (the padding
  token embeds to 0), a 1-D convolution (kernel 3) + ReLU, a GRU over the words, and the MEAN of the GRU's
  hidden states over the caption's words (Reed average the RNN's hidden units over time), then a linear
  map to the embedding. Padding is masked out of the convolution's output and the mean, and the GRU runs
  on the words only, so the embedding does not depend on how many padding tokens follow (tested). Smaller
  than the paper's (widths set by config) and without the temporal max-pooling (16-word captions).
* `ImageEncoder`: the image side of the joint embedding (Reed et al. used fixed GoogLeNet features; none
  exists offline, so a small CNN is trained jointly with the text encoder).
* `TextConditionedGenerator`: GAN-CLS's generator (Reed et al. 2016b, "Generative Adversarial Text to Image
  Synthesis", Sec. 4.1): phi(t) compressed by a dense layer + LeakyReLU(0.2) to `proj_dim`, concatenated to
  z, then the DCGAN generator (`gen_jax.gan.models.DCGANGenerator`, reused).
* `MatchingDiscriminator`: GAN-CLS's discriminator: the DCGAN discriminator's strided convolutions down to
  the base resolution, the compressed phi(t) replicated spatially and concatenated there, a 1x1 convolution
  + norm + LeakyReLU, and a linear logit over the whole base map (the paper's final 4x4 convolution).
* `ConditioningAugmentation`: StackGAN's (Zhang et al. 2017, Sec. 3.1) mu(phi), log sigma(phi) by one dense
  layer, c = mu + sigma * eps.
* `SRResNetGenerator` / `TagDiscriminator`: the anime-character GAN (Jin et al. 2017, "Towards the Automatic
  Anime Characters Creation with Generative Adversarial Networks", Fig. 2): an SRResNet generator (dense to a
  base map, residual blocks of conv-BN-ReLU-conv-BN with a long skip, sub-pixel (pixel-shuffle) upsampling
  blocks, a wide final convolution and tanh) conditioned on z concatenated with the tag vector; a
  discriminator of strided convolutions and residual blocks with LeakyReLU and no normalisation (the DRAGAN
  penalty needs per-example gradients), with two heads: a real/fake logit and one logit per tag.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.gan.models import DCGANGenerator, _normalize, dcgan_num_upsamples
from gen_jax.nn.subpixel import pixel_shuffle  # re-exported: it lived here first


def _check_tokens(name, tokens):
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise ValueError(f"{name}: tokens must be integer ids [batch, length] (0 = padding), got "
                         f"{tokens.dtype} {tokens.shape}")


class TextEncoder(nn.Module):
    """Word-CNN-RNN: tokens [B, L] (0 = padding) -> embeddings [B, out_dim]. See the module docstring."""
    vocab_size: int
    word_dim: int = 32
    conv_features: int = 64
    hidden: int = 64
    out_dim: int = 64

    @nn.compact
    def __call__(self, tokens):
        _check_tokens("TextEncoder", tokens)
        mask = (tokens != 0).astype(jnp.float32)[..., None]            # [B, L, 1]
        h = nn.Embed(self.vocab_size, self.word_dim, name="words")(tokens) * mask
        h = nn.relu(nn.Conv(self.conv_features, (3,), padding="SAME", name="conv")(h)) * mask
        cell = nn.GRUCell(self.hidden, name="gru")
        carry = jnp.zeros((tokens.shape[0], self.hidden))

        def step(cell, carry, inputs):
            x, m = inputs
            new, _ = cell(carry, x)
            carry = m * new + (1.0 - m) * carry     # padding leaves the state unchanged
            return carry, carry * m

        scan = nn.scan(step, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1)
        _, states = scan(cell, carry, (h, mask))                       # [B, L, hidden], 0 at padding
        count = jnp.maximum(mask.sum(axis=1), 1.0)
        return nn.Dense(self.out_dim, name="out")(states.sum(axis=1) / count)


class ImageEncoder(nn.Module):
    """images [B, H, W, C] in [-1, 1] -> embeddings [B, out_dim]: conv(3x3, stride 2) + ReLU stages, a ReLU
    dense layer, a linear output."""
    features: Sequence[int] = (32, 64)
    hidden: int = 128
    out_dim: int = 64

    @nn.compact
    def __call__(self, x):
        h = x
        for f in self.features:
            h = nn.relu(nn.Conv(f, (3, 3), strides=(2, 2), padding="SAME")(h))
        h = nn.relu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.out_dim)(h)


def _compress(cond, dim, name):
    """Reed et al. 2016b: phi(t) -> a dense layer to `dim` + LeakyReLU(0.2)."""
    return nn.leaky_relu(nn.Dense(dim, name=name)(cond), 0.2)


class TextConditionedGenerator(nn.Module):
    """G(z, phi(t)): [z, compress(phi(t))] -> the DCGAN generator. `proj_dim` 0 feeds the condition as is
    (StackGAN's c, already low-dimensional)."""
    image_size: int = 28
    channels: int = 1
    features: int = 64
    proj_dim: int = 128

    @nn.compact
    def __call__(self, z, cond, train: bool = True):
        if cond.ndim != 2 or cond.shape[0] != z.shape[0]:
            raise ValueError(f"TextConditionedGenerator: condition must be [batch={z.shape[0]}, dim], got "
                             f"{cond.shape}")
        c = _compress(cond, self.proj_dim, "compress") if self.proj_dim else cond
        return DCGANGenerator(image_size=self.image_size, channels=self.channels, features=self.features,
                              name="dcgan")(jnp.concatenate([z, c], -1), None, train=train)


class MatchingDiscriminator(nn.Module):
    """D(x, phi(t)) -> [B] logits: DCGAN convolutions to the base map, the compressed condition replicated and
    concatenated there, a 1x1 conv + norm + LeakyReLU(0.2), a linear logit (Reed et al. 2016b, Sec. 4.1)."""
    image_size: int = 28
    features: int = 64
    norm: str = "batch"
    proj_dim: int = 128

    @nn.compact
    def __call__(self, x, cond, train: bool = True):
        if x.ndim != 4:
            raise ValueError(f"MatchingDiscriminator: expected images [B, H, W, C], got shape {x.shape}")
        if cond.ndim != 2 or cond.shape[0] != x.shape[0]:
            raise ValueError(f"MatchingDiscriminator: condition must be [batch={x.shape[0]}, dim], got {cond.shape}")
        n = dcgan_num_upsamples(self.image_size)
        h, width = x, self.features
        for i in range(n):
            h = nn.Conv(width, (4, 4), strides=(2, 2), padding="SAME", use_bias=not (i > 0 and self.norm == "batch"))(h)
            if i > 0:
                h = _normalize(h, self.norm, train)
            h = nn.leaky_relu(h, 0.2)
            width *= 2
        c = _compress(cond, self.proj_dim, "compress") if self.proj_dim else cond
        c = jnp.broadcast_to(c[:, None, None, :], h.shape[:3] + (c.shape[-1],))
        h = nn.Conv(h.shape[-1], (1, 1), use_bias=self.norm != "batch", name="joint")(jnp.concatenate([h, c], -1))
        h = nn.leaky_relu(_normalize(h, self.norm, train), 0.2)
        return nn.Dense(1, name="logit")(h.reshape(h.shape[0], -1))[:, 0]


class ConditioningAugmentation(nn.Module):
    """phi(t) [B, E] -> (c, mu, log_sigma), each [B, c_dim]: c = mu + sigma * eps, eps ~ N(0, I) from `rng`
    (Zhang et al. 2017, Sec. 3.1); rng=None returns c = mu (the mean, for deterministic grids)."""
    c_dim: int = 128

    @nn.compact
    def __call__(self, phi, rng=None):
        h = nn.Dense(2 * self.c_dim, name="mu_log_sigma")(phi)
        mu, log_sigma = h[:, :self.c_dim], h[:, self.c_dim:]
        if rng is None:
            return mu, mu, log_sigma
        return reparameterize(mu, log_sigma, jax.random.normal(rng, mu.shape)), mu, log_sigma


def reparameterize(mu, log_sigma, eps):
    """c = mu + exp(log_sigma) * eps: differentiable in mu and log_sigma (Kingma & Welling 2014)."""
    return mu + jnp.exp(log_sigma) * eps


class _GResBlock(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train):
        h = nn.Conv(self.features, (3, 3), padding="SAME", use_bias=False)(x)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        h = nn.Conv(self.features, (3, 3), padding="SAME", use_bias=False)(h)
        return x + nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)


class SRResNetGenerator(nn.Module):
    """Jin et al. 2017's generator: [z, tags] -> dense to base x base x F -> BN ReLU -> residual blocks -> BN
    ReLU + long skip -> `num_upsamples` x (conv to 4F, pixel shuffle x2, BN, ReLU) -> conv(9x9) -> tanh."""
    image_size: int = 28
    channels: int = 1
    features: int = 64
    num_blocks: int = 16
    num_upsamples: int = 2

    @nn.compact
    def __call__(self, z, cond, train: bool = True):
        base = self.image_size // 2 ** self.num_upsamples
        if base * 2 ** self.num_upsamples != self.image_size:
            raise ValueError(f"SRResNetGenerator: image size {self.image_size} is not base * 2^{self.num_upsamples}")
        f = self.features
        h = nn.Dense(base * base * f, use_bias=False)(jnp.concatenate([z, cond], -1)).reshape(z.shape[0], base, base, f)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        skip = h
        for _ in range(self.num_blocks):
            h = _GResBlock(f)(h, train)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)) + skip
        for _ in range(self.num_upsamples):
            h = pixel_shuffle(nn.Conv(4 * f, (3, 3), padding="SAME", use_bias=False)(h), 2)
            h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        return jnp.tanh(nn.Conv(self.channels, (9, 9), padding="SAME")(h))


class _DResBlock(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        h = nn.leaky_relu(nn.Conv(self.features, (3, 3), padding="SAME")(x), 0.2)
        return nn.leaky_relu(x + nn.Conv(self.features, (3, 3), padding="SAME")(h), 0.2)


class TagDiscriminator(nn.Module):
    """Jin et al. 2017's discriminator: stages of (conv 4x4 stride 2 + LeakyReLU, `blocks_per_stage` residual
    blocks), widths doubling from F, no normalisation; returns (real/fake logit [B], tag logits [B, num_tags])."""
    num_tags: int
    features: int = 32
    num_stages: int = 2
    blocks_per_stage: int = 1

    @nn.compact
    def __call__(self, x, train: bool = True):
        del train
        if x.ndim != 4:
            raise ValueError(f"TagDiscriminator: expected images [B, H, W, C], got shape {x.shape}")
        h, width = x, self.features
        for _ in range(self.num_stages):
            h = nn.leaky_relu(nn.Conv(width, (4, 4), strides=(2, 2), padding="SAME")(h), 0.2)
            for _ in range(self.blocks_per_stage):
                h = _DResBlock(width)(h)
            width *= 2
        h = h.reshape(h.shape[0], -1)
        return nn.Dense(1, name="adversarial")(h)[:, 0], nn.Dense(self.num_tags, name="tags")(h)


class StageIGenerator(nn.Module):
    """StackGAN Stage-I G (Zhang et al. 2017, Sec. 3.2): c = CA(phi(t)), [z, c] -> the DCGAN generator at the
    low resolution. Returns (image, mu, log_sigma); eps [B, c_dim] is CA's noise (None: c = mu)."""
    image_size: int = 14
    channels: int = 1
    features: int = 64
    c_dim: int = 128

    @nn.compact
    def __call__(self, z, phi, eps=None, train: bool = True):
        mu, log_sigma = _mu_log_sigma(phi, self.c_dim)
        c = mu if eps is None else reparameterize(mu, log_sigma, eps)
        x = TextConditionedGenerator(image_size=self.image_size, channels=self.channels, features=self.features,
                                     proj_dim=0, name="g")(z, c, train=train)
        return x, mu, log_sigma


def _mu_log_sigma(phi, c_dim):
    h = nn.Dense(2 * c_dim, name="ca")(phi)
    return h[:, :c_dim], h[:, c_dim:]


def _bn_relu(h, train):
    return nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))


class StageIIGenerator(nn.Module):
    """StackGAN Stage-II G (Zhang et al. 2017, Sec. 3.3): the Stage-I image s0 [B, h, w, C] is encoded (conv 3x3
    + ReLU, conv 4x4 stride 2 + BN + ReLU, to h/2), a second CA's c (from the same phi(t)) is replicated and
    concatenated, joined by conv 3x3 + BN + ReLU, refined by residual blocks, and upsampled twice (nearest x2
    + conv 3x3 + BN + ReLU) to 2h, then conv 3x3 + tanh. Returns (image, mu, log_sigma)."""
    channels: int = 1
    features: int = 64
    c_dim: int = 128
    num_blocks: int = 2

    @nn.compact
    def __call__(self, s0, phi, eps=None, train: bool = True):
        mu, log_sigma = _mu_log_sigma(phi, self.c_dim)
        c = mu if eps is None else reparameterize(mu, log_sigma, eps)
        f = self.features
        h = nn.relu(nn.Conv(f, (3, 3), padding="SAME")(s0))
        h = _bn_relu(nn.Conv(2 * f, (4, 4), strides=(2, 2), padding="SAME", use_bias=False)(h), train)
        c = jnp.broadcast_to(c[:, None, None, :], h.shape[:3] + (c.shape[-1],))
        h = _bn_relu(nn.Conv(2 * f, (3, 3), padding="SAME", use_bias=False)(jnp.concatenate([h, c], -1)), train)
        for _ in range(self.num_blocks):
            h = _GResBlock(2 * f)(h, train)
        for width in (f, f // 2 or 1):
            b, hh, ww, ch = h.shape
            h = jax.image.resize(h, (b, 2 * hh, 2 * ww, ch), "nearest")
            h = _bn_relu(nn.Conv(width, (3, 3), padding="SAME", use_bias=False)(h), train)
        return jnp.tanh(nn.Conv(self.channels, (3, 3), padding="SAME")(h)), mu, log_sigma

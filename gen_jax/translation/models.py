"""The translation models' networks by config, and the history pool of generated images.

Networks (`gen_jax.nn.image2image`):
  * generator arch 'unet' (Pix2Pix), 'resnet' (CycleGAN: 6 or 9 residual blocks), 'encoder_decoder' (the
    U-Net without skips: Pix2Pix's ablation and DiscoGAN's generator, Kim et al. 2017, Sec. 4: 4x4 stride-2
    convolutions with LeakyReLU down, transposed convolutions with ReLU up);
  * discriminator: the PatchGAN whose receptive field is `receptive_field` (70 in the papers at 256x256;
    16 or 34 fit 28x28 digits).

The history pool (Shrivastava et al. 2017, "Learning from Simulated and Unsupervised Images through
Adversarial Training", Sec. 2.3; Zhu et al. 2017, Sec. 4 and the authors' ImagePool): the discriminators are
updated with generated images drawn from a buffer of the last `size` = 50 generated images instead of only
the newest ones. For each generated image of a batch, in order: while the buffer holds fewer than `size`
images, the image is stored and returned; once it is full, with probability 1/2 a uniformly chosen stored
image is returned and the new image takes its slot, otherwise the new image is returned and the buffer is
unchanged. The buffer is a pytree ({'images': [size, H, W, C], 'count': int32}) kept in the TrainState, so
it is checkpointed and a resumed run draws the same images.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.nn import image2image as i2i

GENERATORS = ("unet", "resnet", "encoder_decoder")


def build_generator(cfg, out_channels: int):
    """The generator named by cfg.arch (see the module docstring), producing `out_channels` in [-1, 1]."""
    arch = cfg.get("arch", "unet")
    norm = cfg.get("norm", "instance")
    features = int(cfg.get("features", 64))
    if arch in ("unet", "encoder_decoder"):
        skips = arch == "unet"
        return i2i.UNetGenerator(out_channels=out_channels, features=features,
                                 num_downs=int(cfg.get("num_downs", 5)),
                                 max_features=int(cfg.get("max_features", 512)),
                                 dropout_rate=float(cfg.get("dropout", 0.5 if skips else 0.0)),
                                 num_dropout=int(cfg.get("num_dropout", 3)), norm=norm, skips=skips)
    if arch == "resnet":
        blocks = int(cfg.get("num_blocks", 9))
        if blocks < 1:
            raise ValueError(f"generator.num_blocks must be >= 1 (CycleGAN uses 6 or 9), got {blocks}")
        return i2i.ResnetGenerator(out_channels=out_channels, features=features, num_blocks=blocks,
                                   num_downsamples=int(cfg.get("num_downsamples", 2)), norm=norm)
    raise ValueError(f"unknown generator.arch {arch!r}; expected one of {GENERATORS}")


def build_discriminator(cfg):
    """The PatchGAN with the configured receptive field (cfg.receptive_field pixels)."""
    layers = i2i.num_layers_for_receptive_field(int(cfg.get("receptive_field", 70)))
    return i2i.PatchDiscriminator(features=int(cfg.get("features", 64)), num_layers=layers,
                                  max_features=int(cfg.get("max_features", 512)), norm=cfg.get("norm", "instance"))


# -- the history pool ---------------------------------------------------------------------------------------

def pool_init(size: int, image_shape) -> dict:
    """An empty pool of `size` images of `image_shape` ([H, W, C])."""
    if size < 0:
        raise ValueError(f"pool size must be >= 0, got {size}")
    return {"images": jnp.zeros((int(size),) + tuple(image_shape), jnp.float32), "count": jnp.zeros((), jnp.int32)}


def pool_query(rng, pool: dict, images):
    """(new pool, images for the discriminator): the history-pool rule of the module docstring applied to each
    image of `images` ([B, H, W, C]) in order, with its own key of split(rng, B). A pool of size 0 returns the
    images unchanged."""
    size = pool["images"].shape[0]
    if size == 0:
        return pool, images
    if images.shape[1:] != pool["images"].shape[1:]:
        raise ValueError(f"pool_query: images {images.shape[1:]} do not match the pool's {pool['images'].shape[1:]}")

    def one(p, inp):
        img, key = inp
        k_coin, k_slot = jax.random.split(key)
        count = p["count"]
        full = count >= size
        use_stored = full & (jax.random.uniform(k_coin) < 0.5)
        slot = jnp.where(full, jax.random.randint(k_slot, (), 0, size), count)
        stored = p["images"][slot]
        out = jnp.where(use_stored, stored, img)
        write = jnp.logical_not(full) | use_stored
        new = p["images"].at[slot].set(jnp.where(write, img, stored))
        return {"images": new, "count": jnp.minimum(count + 1, size)}, out

    keys = jax.random.split(rng, images.shape[0])
    pool, out = jax.lax.scan(one, pool, (images.astype(jnp.float32), keys))
    return pool, out.astype(images.dtype)

"""Networks with several outputs built on the GAN family's DCGAN discriminator body (never re-implemented).

`DCGANHeads`: the strided-convolution body of `gen_jax.gan.models.DCGANDiscriminator` (its features before
the logit layer, read with `models.discriminator_features`' rule: the input of its last Dense call), then one
linear head per named output. The body's own one-logit layer is created by the child module but unused: its
gradient is exactly zero, so Adam leaves it unchanged. Used as

* DTN's three-way discriminator (Taigman et al. 2017, Eq. 2): heads {'logits': 3};
* IcGAN's encoders E_z and E_y (Perarnau et al. 2016, Sec. 3.2): heads {'z': latent_dim}, {'y': classes};
* PerceptualGAN's discriminator with an adversarial and a perception branch (Li et al. 2017, Sec. 3.2).
"""
from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn

from gen_jax.gan.models import DCGANDiscriminator


class DCGANHeads(nn.Module):
    """x [B, H, W, C] -> {name: [B, size]} from the DCGAN discriminator body.

    Attributes: image_size, features, norm ('batch' | 'layer' | 'none'): the body's settings; heads: name ->
    output size."""
    image_size: int
    heads: Mapping[str, int]
    features: int = 64
    norm: str = "batch"

    @nn.compact
    def __call__(self, x, train: bool = True):
        if not self.heads:
            raise ValueError("DCGANHeads: give at least one head (name -> size)")
        body = DCGANDiscriminator(image_size=self.image_size, features=self.features, norm=self.norm,
                                  name="body")
        captured = []

        def interceptor(next_fun, args, kwargs, context):
            if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
                captured.append(args[0])
            return next_fun(*args, **kwargs)

        with nn.intercept_methods(interceptor):
            body(x, train=train)
        h = captured[-1].reshape(x.shape[0], -1)
        return {name: nn.Dense(int(size), name=f"head_{name}")(h) for name, size in sorted(self.heads.items())}

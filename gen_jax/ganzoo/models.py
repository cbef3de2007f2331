"""Players of the GAN zoo, composed from `gen_jax.gan.models` (never re-implemented here).

* `discriminator_features`: the input of a discriminator's final linear layer (for DCGAN: the flattened
  LeakyReLU activations of its last convolution block), AnoGAN's intermediate feature map f(.)
  (Schlegl et al. 2017, Sec. 2.2), read from any `gen_jax.gan.models` discriminator without changing it.
"""
from __future__ import annotations

import flax.linen as nn


def discriminator_features(module: nn.Module, variables, x, *args, train: bool = False):
    """(features [B, F], logits [B]) of a discriminator: the input of its LAST `nn.Dense` call.

    The DCGAN and MLP discriminators of `gen_jax.gan.models` end with one Dense logit layer, so this is the
    penultimate representation (flattened). Captured with `flax.linen.intercept_methods`; differentiable.
    """
    captured = []

    def interceptor(next_fun, call_args, call_kwargs, context):
        if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
            captured.append(call_args[0])
        return next_fun(*call_args, **call_kwargs)

    with nn.intercept_methods(interceptor):
        logits = module.apply(variables, x, *args, train=train)
    if not captured:
        raise ValueError(f"discriminator_features: {type(module).__name__} has no Dense layer to read features from")
    h = captured[-1]
    return h.reshape(h.shape[0], -1), logits

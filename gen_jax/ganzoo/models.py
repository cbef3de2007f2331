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


# ----------------------------------------------------------------------------------------------------------
# CoGAN weight sharing (Liu & Tuzel 2016): parameter subtrees used by two players.
# ----------------------------------------------------------------------------------------------------------

def _layer_of(name: str, kind: str) -> int:
    """The layer index (0 = input side) of a top-level parameter of a gen_jax.gan DCGAN player.

    Generator: Dense_0 + BatchNorm_0 form layer 0, ConvTranspose_{i-1} + BatchNorm_i layer i, the output
    ConvTranspose_{n-1} layer n. Discriminator: Conv_0 is layer 0, Conv_i + its norm (BatchNorm_{i-1} or
    LayerNorm_{i-1}) layer i, Dense_0 (the logit) the last layer."""
    base, _, idx = name.rpartition("_")
    if not idx.isdigit():
        raise ValueError(f"CoGAN sharing: unexpected parameter {name!r} (spectral norm and label conditioning "
                         "are not supported by the shared players)")
    i = int(idx)
    if kind == "generator":
        table = {"Dense": 0, "BatchNorm": i, "ConvTranspose": i + 1}
    else:
        table = {"Conv": i, "BatchNorm": i + 1, "LayerNorm": i + 1, "Dense": 10 ** 6}
    if base not in table:
        raise ValueError(f"CoGAN sharing: unexpected {kind} parameter {name!r}")
    return table[base]


def split_shared(params, kind: str, num_private: int):
    """(shared, private) top-level parameter names of a DCGAN player's params.

    Generators share their FIRST layers and keep the last `num_private` private; discriminators share their
    LAST layers and keep the first `num_private` private (Liu & Tuzel 2016, Sec. 3: the first generator
    layers decode high-level semantics, the last discriminator layers encode them)."""
    if kind not in ("generator", "discriminator"):
        raise ValueError(f"split_shared: kind must be 'generator' or 'discriminator', got {kind!r}")
    layers = {n: _layer_of(n, kind) for n in params}
    order = sorted(set(layers.values()))
    if not 1 <= num_private < len(order):
        raise ValueError(f"CoGAN: {kind} has {len(order)} layers; the number of private layers must be in "
                         f"[1, {len(order) - 1}], got {num_private}")
    private_layers = set(order[-num_private:] if kind == "generator" else order[:num_private])
    private = tuple(sorted(n for n, l in layers.items() if l in private_layers))
    shared = tuple(sorted(n for n in params if n not in private))
    return shared, private


def couple(params_1, params_2, shared_names):
    """{'shared': player 1's shared layers, 'p1': its private layers, 'p2': player 2's private layers}: the
    shared layers exist once (player 2's own initial copies of them are dropped)."""
    return {"shared": {n: params_1[n] for n in shared_names},
            "p1": {n: v for n, v in params_1.items() if n not in shared_names},
            "p2": {n: v for n, v in params_2.items() if n not in shared_names}}


def player_params(coupled, which: str):
    """Player `which` ('p1' or 'p2')'s full parameter dict: the shared subtree plus its private layers. The
    same shared arrays enter both players, so a loss of both has the SUM of both gradients on them."""
    return {**coupled["shared"], **coupled[which]}

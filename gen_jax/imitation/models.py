"""The players of imitation learning: a policy, a value function, and GAIL's discriminator D(s, a).

* `Policy`: an MLP with tanh hidden layers (the architecture of Ho & Ermon 2016, Sec. 6: two hidden layers of
  64 tanh units on classic control, 100 on MuJoCo) giving a distribution over actions: categorical logits
  for discrete actions, or a diagonal Gaussian (state-independent log standard deviation, a parameter) for
  continuous ones. A distribution is a dict: {'logits': [B, A]} or {'mean': [B, d], 'log_std': [B, d]}.
* `ValueNet`: an MLP with tanh hidden layers -> V(s), [B].
* The discriminator is the GAN family's `MLPDiscriminator` (gen_jax.gan.models) on the concatenation of the
  (normalised) observation and the action (one-hot for discrete actions): `disc_inputs` builds that input.

The distribution helpers (`log_prob`, `entropy`, `kl`, `sample`, `mode`) are pure functions of those dicts.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gen_jax.gan.models import MLPDiscriminator

__all__ = [
    "MLPDiscriminator",
    "Policy",
    "ValueNet",
    "disc_inputs",
    "entropy",
    "kl",
    "log_prob",
    "mode",
    "sample",
]


def _mlp(h, features, name):
    for i, f in enumerate(features):
        h = jnp.tanh(nn.Dense(f, kernel_init=nn.initializers.orthogonal(math.sqrt(2.0)), name=f"{name}{i}")(h))
    return h


class Policy(nn.Module):
    """obs [B, D] -> action distribution (see module docstring).

    Attributes:
      num_actions: > 0: categorical over that many actions; 0: diagonal Gaussian of `action_dim` dimensions.
      action_dim: dimension of continuous actions.
      features: hidden widths (tanh).
      init_log_std: initial log standard deviation of the Gaussian.
    """
    num_actions: int
    action_dim: int = 1
    features: Sequence[int] = (64, 64)
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs):
        h = _mlp(obs, self.features, "hidden")
        small = nn.initializers.orthogonal(0.01)  # a near-uniform / near-zero-mean initial policy
        if self.num_actions:
            return {"logits": nn.Dense(self.num_actions, kernel_init=small, name="logits")(h)}
        mean = nn.Dense(self.action_dim, kernel_init=small, name="mean")(h)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        return {"mean": mean, "log_std": jnp.broadcast_to(log_std, mean.shape)}


class ValueNet(nn.Module):
    """obs [B, D] -> V(s) [B]."""
    features: Sequence[int] = (64, 64)

    @nn.compact
    def __call__(self, obs):
        h = _mlp(obs, self.features, "hidden")
        return nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0), name="out")(h)[:, 0]


def disc_inputs(obs, action, num_actions: int):
    """The discriminator's input: [obs, one_hot(action)] (discrete) or [obs, action] (continuous), [B, D']."""
    if num_actions:
        a = jax.nn.one_hot(action, num_actions, dtype=obs.dtype)
    else:
        a = action.astype(obs.dtype).reshape(obs.shape[0], -1)
    return jnp.concatenate([obs, a], -1)


# ---------------------------------------------------------------------------------------------- distributions

def _is_discrete(dist) -> bool:
    if "logits" in dist:
        return True
    if "mean" in dist and "log_std" in dist:
        return False
    raise ValueError(f"a policy distribution is {{'logits'}} or {{'mean', 'log_std'}}, got keys {sorted(dist)}")


def log_prob(dist, action):
    """log pi(a | s), [B]."""
    if _is_discrete(dist):
        logp = jax.nn.log_softmax(dist["logits"])
        return jnp.take_along_axis(logp, action.astype(jnp.int32)[..., None], -1)[..., 0]
    mean, log_std = dist["mean"], dist["log_std"]
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi), -1)


def entropy(dist):
    """H(pi(. | s)), [B]: -sum_a p log p, or sum_i (log sigma_i + 0.5 log(2 pi e)) for the Gaussian."""
    if _is_discrete(dist):
        logp = jax.nn.log_softmax(dist["logits"])
        return -jnp.sum(jnp.exp(logp) * logp, -1)
    return jnp.sum(dist["log_std"] + 0.5 * math.log(2 * math.pi * math.e), -1)


def kl(p, q):
    """KL(p || q) per state, [B] (closed forms for categorical and diagonal Gaussian distributions)."""
    if _is_discrete(p):
        lp, lq = jax.nn.log_softmax(p["logits"]), jax.nn.log_softmax(q["logits"])
        return jnp.sum(jnp.exp(lp) * (lp - lq), -1)
    vp, vq = jnp.exp(2 * p["log_std"]), jnp.exp(2 * q["log_std"])
    return jnp.sum(q["log_std"] - p["log_std"] + (vp + (p["mean"] - q["mean"]) ** 2) / (2 * vq) - 0.5, -1)


def sample(key, dist):
    if _is_discrete(dist):
        return jax.random.categorical(key, dist["logits"]).astype(jnp.int32)
    return dist["mean"] + jnp.exp(dist["log_std"]) * jax.random.normal(key, dist["mean"].shape)


def mode(dist):
    """The deterministic policy: the most probable action (argmax, or the Gaussian's mean)."""
    if _is_discrete(dist):
        return jnp.argmax(dist["logits"], -1).astype(jnp.int32)
    return dist["mean"]

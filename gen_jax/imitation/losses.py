"""Losses of imitation learning and its policy-gradient learners: pure, per example, minimised by the caller.

Papers:
  * Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage Estimation" (GAE).
  * Schulman et al. 2015, "Trust Region Policy Optimization" (the surrogate and its KL constraint).
  * Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (the clipped surrogate, Eq. 7).
  * Ho & Ermon 2016, "Generative Adversarial Imitation Learning" (the discriminator, the cost log D, the
    causal-entropy regulariser, Algorithm 1).
  * Pomerleau 1991 (ALVINN) / Ross & Bagnell 2010: behavioural cloning, maximum likelihood of expert actions.

Convention for D. Here D(s, a) = sigmoid(logit) is the probability that (s, a) is the EXPERT's (the GAN
convention: the expert is the "real" data), so the optimal discriminator is D* = p_E / (p_E + p_pi) and its
loss is the GAN family's `discriminator_minimax_loss(expert_logits, policy_logits)`. Ho & Ermon's D is the
probability of the POLICY (their Eq. 17 maximises E_pi[log D] + E_E[log(1 - D)]); their D is our 1 - D, and
their surrogate reward -log D_HE(s, a) is -log(1 - D(s, a)) here (`gail_reward(kind='gail')`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.gan.losses import discriminator_minimax_loss

GAIL_REWARDS = ("gail", "logit")


def gae(rewards, values, next_values, terminated, done, gamma: float, lam: float):
    """Generalised advantage estimates over a [T, ...] trajectory (Schulman et al. 2016, Eq. 16).

    delta_t = r_t + gamma (1 - terminated_t) V(s'_t) - V(s_t), where s'_t is the state the step reached (the
    final observation when the episode ended: a time-limit truncation bootstraps from it, a termination does
    not); A_t = delta_t + gamma lam (1 - done_t) A_{t+1}, with A_T = 0 after the last step.

    Args:
      rewards, values, next_values: [T, ...] r_t, V(s_t), V(s'_t).
      terminated: [T, ...] the episode ended in a terminal state at step t.
      done: [T, ...] the episode ended at step t (terminated or truncated): A does not flow back across it.
    Returns:
      (advantages, returns = advantages + values), both [T, ...].
    """
    if not (rewards.shape == values.shape == next_values.shape == terminated.shape == done.shape):
        raise ValueError(f"gae: rewards {rewards.shape}, values {values.shape}, next_values {next_values.shape}, "
                         f"terminated {terminated.shape} and done {done.shape} must have the same shape")
    not_term = 1.0 - terminated.astype(values.dtype)
    not_done = 1.0 - done.astype(values.dtype)
    deltas = rewards + gamma * not_term * next_values - values

    def back(adv_next, x):
        delta, nd = x
        adv = delta + gamma * lam * nd * adv_next
        return adv, adv

    _, adv = jax.lax.scan(back, jnp.zeros_like(values[0]), (deltas, not_done), reverse=True)
    return adv, adv + values


def ppo_clip_loss(logp, logp_old, advantages, clip_eps: float):
    """PPO's clipped surrogate, negated (Schulman et al. 2017, Eq. 7), [B]:
    -min(rho A, clip(rho, 1 - eps, 1 + eps) A) with rho = pi(a|s) / pi_old(a|s)."""
    ratio = jnp.exp(logp - logp_old)
    return -jnp.minimum(ratio * advantages, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages)


def surrogate_loss(logp, logp_old, advantages):
    """TRPO's importance-sampled surrogate, negated (Schulman et al. 2015, Eq. 14), [B]: -rho A. At
    pi = pi_old its gradient is the policy gradient -A grad log pi(a|s)."""
    return -jnp.exp(logp - logp_old) * advantages


def reinforce_loss(logp, advantages):
    """The score-function (REINFORCE) estimator's loss, [B]: -A log pi(a|s) (advantages held fixed)."""
    return -jax.lax.stop_gradient(advantages) * logp


def value_loss(values, returns):
    """0.5 (V(s) - R)^2, [B]."""
    return 0.5 * (values - returns) ** 2


def discriminator_loss(expert_logits, policy_logits):
    """GAIL's discriminator loss, [B]: -log D(s_E, a_E) - log(1 - D(s, a)) with D = sigmoid(logit) the
    probability of the expert (Ho & Ermon 2016, Eq. 17, with D <-> 1 - D; see the module docstring). It is
    the GAN minimax discriminator loss; its minimiser over D is D* = p_E / (p_E + p_pi)."""
    return discriminator_minimax_loss(expert_logits, policy_logits)


def gail_reward(logits, kind: str = "gail"):
    """The policy's surrogate reward from the discriminator's logit l = log D - log(1 - D), [B].

    'gail': -log(1 - D) = softplus(l) >= 0, the paper's cost log D_HE negated (Ho & Ermon 2016, Algorithm 1);
    'logit': log D - log(1 - D) = l, of either sign (the reward of Fu et al. 2018, AIRL; its expectation under
    pi is -KL(pi || expert) at the optimal D). Both grow with D: pairs that look like the expert's earn more.
    """
    if kind == "gail":
        return jax.nn.softplus(logits)
    if kind == "logit":
        return logits
    raise ValueError(f"unknown GAIL reward {kind!r}; expected one of {GAIL_REWARDS}")


def bc_loss(logp_expert):
    """Behavioural cloning, [B]: -log pi(a_E | s_E) (maximum likelihood of the expert's actions)."""
    return -logp_expert

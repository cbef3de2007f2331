"""Policy-gradient learners: PPO and TRPO updates, the conjugate-gradient solver, an observation normaliser.

* `ppo_update`: epochs of minibatch Adam steps on the clipped surrogate with an entropy bonus (Schulman et
  al. 2017, Algorithm 1), one optimizer per player ('policy', 'value').
* `trpo_update`: the natural-gradient step of TRPO (Schulman et al. 2015, Appendix C): the search direction
  s = F^{-1} g by conjugate gradient on Fisher-vector products (Hessian-vector products of the mean KL at the
  old policy, plus damping), scaled to the trust region 0.5 s^T F s = delta, then a backtracking line search
  that accepts the first step (1, 1/2, 1/4, ...) whose mean KL(pi_old || pi) <= delta and whose surrogate
  improves; none accepted: the policy is left unchanged. The value function is fitted by Adam
  (`value_update`).
* `RunningNorm`: running mean/variance of observations (parallel merge of Chan et al. 1979), carried in the
  train state so that a resumed run normalises identically.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gen_jax.imitation import losses
from gen_jax.imitation import models as M

# ------------------------------------------------------------------------------------- observation normaliser


def norm_init(dim: int):
    """Statistics of no observations yet (count epsilon, mean 0, variance 1)."""
    return {"mean": jnp.zeros((dim,), jnp.float32), "var": jnp.ones((dim,), jnp.float32),
            "count": jnp.asarray(1e-4, jnp.float32)}


def norm_update(stats, x):
    """Merges the mean and variance of a batch x [N, D] into the running statistics (Chan et al. 1979)."""
    x = x.reshape(-1, stats["mean"].shape[0])
    n = jnp.asarray(x.shape[0], jnp.float32)
    bm, bv = jnp.mean(x, 0), jnp.var(x, 0)
    total = stats["count"] + n
    delta = bm - stats["mean"]
    mean = stats["mean"] + delta * n / total
    m2 = stats["var"] * stats["count"] + bv * n + delta ** 2 * stats["count"] * n / total
    return {"mean": mean, "var": m2 / total, "count": total}


def norm_from_data(x):
    """Statistics of a fixed data set x [N, D] (behavioural cloning normalises by the demonstrations)."""
    return {"mean": jnp.mean(x, 0), "var": jnp.var(x, 0), "count": jnp.asarray(x.shape[0], jnp.float32)}


def normalize(stats, x, clip: float = 10.0):
    return jnp.clip((x - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-8), -clip, clip)


# ------------------------------------------------------------------------------------------- conjugate gradient

def conjugate_gradient(matvec: Callable, b, iters: int = 10, tol: float = 1e-10):
    """Approximately solves A x = b for symmetric positive definite A given by `matvec`, from x = 0 (Hestenes
    & Stiefel 1952); `iters` iterations, stopping early (x frozen) once the squared residual is below `tol`.
    With iters >= dim(b) it is exact in exact arithmetic."""
    x = jnp.zeros_like(b)
    r = b
    p = b
    rr = jnp.dot(r, r)

    def body(carry, _):
        x, r, p, rr = carry
        go = rr > tol
        ap = matvec(p)
        alpha = jnp.where(go, rr / jnp.maximum(jnp.dot(p, ap), 1e-30), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = jnp.dot(r, r)
        beta = jnp.where(go, rr_new / jnp.maximum(rr, 1e-30), 0.0)
        p = jnp.where(go, r + beta * p, p)
        return (x, r, p, jnp.where(go, rr_new, rr)), None

    (x, _, _, _), _ = jax.lax.scan(body, (x, r, p, rr), None, length=iters)
    return x


# ----------------------------------------------------------------------------------------------------- updates

def _minibatches(key, n: int, num: int):
    if n % num:
        raise ValueError(f"a rollout of {n} steps does not split into {num} minibatches: make num_envs x "
                         f"rollout_steps divisible by num_minibatches")
    return jax.random.permutation(key, n).reshape(num, n // num)


def value_update(state, batch, key, value_apply, epochs: int, num_minibatches: int):
    """Adam minibatch epochs on 0.5 (V(s) - R)^2 for the 'value' player. batch: flat 'obs', 'returns'."""
    n = batch["obs"].shape[0]

    def epoch(state, k):
        def mb(state, idx):
            def loss_fn(p):
                return jnp.mean(losses.value_loss(value_apply(p, batch["obs"][idx]), batch["returns"][idx]))

            loss, g = jax.value_and_grad(loss_fn)(state.params["value"])
            return state.apply_gradients(g, player="value"), loss

        return jax.lax.scan(mb, state, _minibatches(k, n, num_minibatches))

    state, vl = jax.lax.scan(epoch, state, jax.random.split(key, epochs))
    return state, jnp.mean(vl)


def ppo_update(state, batch, key, policy_apply, value_apply, *, epochs: int, num_minibatches: int,
               clip_eps: float, entropy_coef: float):
    """PPO's epochs of minibatch steps. batch: flat [N] 'obs', 'action', 'logp', 'advantages', 'returns'.
    The policy minimises mean(ppo_clip_loss) - entropy_coef * mean(H(pi)); the value player its own loss."""
    n = batch["obs"].shape[0]

    def epoch(state, k):
        def mb(state, idx):
            b = jax.tree.map(lambda x: x[idx], batch)

            def pi_loss(p):
                d = policy_apply(p, b["obs"])
                lp = M.log_prob(d, b["action"])
                ent = jnp.mean(M.entropy(d))
                clip = jnp.mean(losses.ppo_clip_loss(lp, b["logp"], b["advantages"], clip_eps))
                approx_kl = jnp.mean(b["logp"] - lp)
                return clip - entropy_coef * ent, (clip, ent, approx_kl)

            def v_loss(p):
                return jnp.mean(losses.value_loss(value_apply(p, b["obs"]), b["returns"]))

            (_, aux), gp = jax.value_and_grad(pi_loss, has_aux=True)(state.params["policy"])
            vl, gv = jax.value_and_grad(v_loss)(state.params["value"])
            state = state.apply_gradients(gp, player="policy").apply_gradients(gv, player="value")
            return state, (*aux, vl)

        return jax.lax.scan(mb, state, _minibatches(k, n, num_minibatches))

    state, (clip, ent, akl, vl) = jax.lax.scan(epoch, state, jax.random.split(key, epochs))
    return state, {"policy_loss": jnp.mean(clip), "entropy": jnp.mean(ent), "approx_kl": jnp.mean(akl),
                   "value_loss": jnp.mean(vl)}


def fisher_vector_product(mean_kl: Callable, flat, damping: float = 0.0) -> Callable:
    """v -> (F + damping I) v, with F the Hessian at `flat` of `mean_kl(f)` = mean KL(pi_old || pi_f) (pi_old =
    pi_flat): at pi_f = pi_old it equals the Fisher information E[grad log pi grad log pi^T] (Schulman et al.
    2015, Appendix C). Forward-over-reverse: one jvp of the gradient, no matrix formed."""
    kl_grad = jax.grad(mean_kl)

    def fvp(v):
        return jax.jvp(kl_grad, (flat,), (v,))[1] + damping * v

    return fvp


def trpo_step(params, batch, policy_apply, *, max_kl: float, entropy_coef: float = 0.0, cg_iters: int = 10,
              damping: float = 0.1, backtracks: int = 10):
    """One TRPO policy step (see the module docstring). batch: flat 'obs', 'action', 'logp', 'advantages'.

    Returns (new params, metrics) with metrics 'kl' (mean KL(pi_old || pi_new) of the accepted step),
    'step_fraction' (1, 1/2, ...; 0 when no step was accepted), 'surrogate_gain' (its decrease of the loss).
    """
    flat, unravel = ravel_pytree(params)
    obs, action, logp_old, adv = batch["obs"], batch["action"], batch["logp"], batch["advantages"]
    old = jax.lax.stop_gradient(policy_apply(params, obs))

    def loss(f):
        d = policy_apply(unravel(f), obs)
        surr = jnp.mean(losses.surrogate_loss(M.log_prob(d, action), logp_old, adv))
        return surr - entropy_coef * jnp.mean(M.entropy(d))

    def mean_kl(f):
        return jnp.mean(M.kl(old, policy_apply(unravel(f), obs)))

    loss0, g = jax.value_and_grad(loss)(flat)
    fvp = fisher_vector_product(mean_kl, flat, damping)
    step_dir = conjugate_gradient(fvp, -g, cg_iters)
    shs = 0.5 * jnp.dot(step_dir, fvp(step_dir))
    full = step_dir * jnp.sqrt(max_kl / jnp.maximum(shs, 1e-12))
    fractions = 0.5 ** jnp.arange(backtracks, dtype=jnp.float32)

    def trial(frac):
        f = flat + frac * full
        return loss(f), mean_kl(f)

    trial_loss, trial_kl = jax.lax.map(trial, fractions)
    ok = (trial_kl <= max_kl) & (trial_loss < loss0) & jnp.isfinite(trial_loss)
    first = jnp.argmax(ok)
    accepted = jnp.any(ok)
    frac = jnp.where(accepted, fractions[first], 0.0)
    new = unravel(flat + frac * full)
    return new, {"kl": jnp.where(accepted, trial_kl[first], 0.0), "step_fraction": frac,
                 "surrogate_gain": jnp.where(accepted, loss0 - trial_loss[first], 0.0)}

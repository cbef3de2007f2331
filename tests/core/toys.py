"""Small experiments that exercise the engine's contracts, shared by the core tests.

* `ContextualBandit` ('test_contextual_bandit'): no dataset at all. An environment (a batch of contextual
  bandits whose context moves with the action) is stepped inside `train_step` by REINFORCE; its states are
  carried in `TrainState.extra` and sharded over the data axis (`state_partition`). `episode_returns` gives
  the evaluator's returns.
* `TwoDomains` ('test_two_domains'): two named loaders (two disjoint slices of digits, shuffled
  independently) and a TrainState subclass with a 50-image pool of past inputs replaced at random, which
  changes the metrics: a resume that lost the pool or a loader position would not reproduce them.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec as P

from gen_jax.core.experiment import Experiment, Input, register
from gen_jax.core.state import TrainState

NUM_CONTEXTS, NUM_ARMS, HORIZON = 4, 3, 5
# reward of arm a in context c; the context then moves to (c + a + 1) mod NUM_CONTEXTS
REWARDS = jnp.asarray([[0.0, 1.0, 0.2], [0.5, 0.0, 1.0], [1.0, 0.3, 0.0], [0.1, 0.1, 0.9]], jnp.float32)


def bandit_step(context, action):
    return REWARDS[context, action], (context + action + 1) % NUM_CONTEXTS


def greedy_return(logits, start: int = 0) -> float:
    """The return of HORIZON greedy steps from context `start`, computed by hand (in Python)."""
    c, total = start, 0.0
    for _ in range(HORIZON):
        a = int(jnp.argmax(logits[c]))
        total += float(REWARDS[c, a])
        c = (c + a + 1) % NUM_CONTEXTS
    return total


@register("test_contextual_bandit")
class ContextualBandit(Experiment):
    """REINFORCE on `num_envs` contextual bandits stepped inside train_step (config.model.num_envs)."""

    def inputs(self):
        return {}

    def init_state(self, rng, batch):
        assert batch == {}
        e = int(self.config.model.get("num_envs", 16))
        env = {"context": jnp.arange(e, dtype=jnp.int32) % NUM_CONTEXTS, "t": jnp.zeros((e,), jnp.int32)}
        return self.create_state({"logits": jnp.zeros((NUM_CONTEXTS, NUM_ARMS))}, rng,
                                 tx=optax.adam(0.1), extra={"env": env, "episodes": jnp.zeros((), jnp.int32)})

    def state_partition(self, state):
        return {"extra/env": P("data")}

    def train_step(self, state, batch, rng):
        env = state.extra["env"]

        def rollout(params):
            def step(carry, key):
                context, t = carry
                logp = jax.nn.log_softmax(params["logits"][context])
                action = jax.random.categorical(key, jax.lax.stop_gradient(logp))
                reward, nxt = bandit_step(context, action)
                t = t + 1
                done = t == HORIZON
                nxt = jnp.where(done, 0, nxt)
                t = jnp.where(done, 0, t)
                lp = jnp.take_along_axis(logp, action[:, None], 1)[:, 0]
                return (nxt, t), (lp, reward, done)

            keys = jax.random.split(rng, 8)
            carry, (lp, rew, done) = jax.lax.scan(step, (env["context"], env["t"]), keys)
            togo = jnp.cumsum(rew[::-1], 0)[::-1]
            adv = togo - jnp.mean(togo)
            return -jnp.mean(lp * jax.lax.stop_gradient(adv)), (carry, jnp.mean(rew), jnp.sum(done))

        (loss, ((ctx, t), mean_reward, finished)), grads = jax.value_and_grad(rollout, has_aux=True)(state.params)
        state = state.apply_gradients(grads)
        extra = {"env": {"context": ctx, "t": t}, "episodes": state.extra["episodes"] + finished.astype(jnp.int32)}
        return state.replace(extra=extra), {"loss": loss, "reward": mean_reward,
                                            "episodes": extra["episodes"].astype(jnp.float32)}

    def episode_returns(self, state, rng, num_episodes, deterministic=True):
        logits = state.params["logits"]

        def episode(key):
            def step(c, k):
                a = jnp.argmax(logits[c]) if deterministic else jax.random.categorical(k, logits[c])
                r, nxt = bandit_step(c, a)
                return nxt, r

            _, r = jax.lax.scan(step, jnp.zeros((), jnp.int32), jax.random.split(key, HORIZON))
            return jnp.sum(r)

        return jax.vmap(episode)(jax.random.split(rng, num_episodes))


class PoolState(TrainState):
    pool: jax.Array = None
    pool_filled: jax.Array = None


POOL = 50


@register("test_two_domains")
class TwoDomains(Experiment):
    """w learns to map domain A's mean image onto domain B's; a pool of 50 past B images feeds a metric."""

    def inputs(self):
        return {"A": Input(split="train[:700]"), "B": Input(split="train[700:]", batch_size=8)}

    def init_state(self, rng, batch):
        assert set(batch) == {"A", "B"}
        shape = batch["A"]["x"].shape[1:]
        return PoolState.create(params={"w": jnp.zeros(shape)}, tx=optax.sgd(0.01), rng=rng,
                                pool=jnp.zeros((POOL,) + shape), pool_filled=jnp.zeros((), jnp.int32))

    def train_step(self, state, batch, rng):
        a = batch["A"]["x"].astype(jnp.float32) / 16.0
        b = batch["B"]["x"].astype(jnp.float32) / 16.0
        # the pool: each B image replaces a random slot (CycleGAN-style history of past images)
        slots = jax.random.randint(rng, (b.shape[0],), 0, POOL)
        pool = state.pool.at[slots].set(b)
        loss, g = jax.value_and_grad(lambda p: jnp.mean((a + p["w"] - jnp.mean(pool, 0)) ** 2))(state.params)
        state = state.apply_gradients(g).replace(pool=pool, pool_filled=jnp.minimum(state.pool_filled + b.shape[0],
                                                                                    POOL))
        return state, {"loss": loss, "pool_mean": jnp.mean(pool)}

    def eval_step(self, state, batch, rng):
        x = batch["x"].astype(jnp.float32) / 16.0
        return {"sq": jnp.sum((x + state.params["w"] - jnp.mean(state.pool, 0)) ** 2, axis=(1, 2, 3))}

"""Environments in JAX behind one small interface, and vectorised, jitted rollouts.

An `Env` is a pair of pure functions on one environment (vmap them for a batch):

    obs, state = env.reset(key)
    obs, state, reward, done, info = env.step(key, state, action)

`step` resets automatically: when the episode ends (`done = terminated | truncated`) the returned `obs` and
`state` are those of a fresh episode, and `info['final_obs']` is the observation the episode ended on (equal
to `obs` when it did not end), so that a learner can bootstrap the value of a time-limit truncation
(`info['terminated']`, `info['truncated']`). Continuous actions are clipped to `[action_low, action_high]`.

Back-ends:
  * gymnax (Lange 2022; the extra `gen_jax[rl]`, pinned `gymnax==1.0.1` in requirements.txt): the classic-control
    tasks CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1 (and any other gymnax name),
    `make_env('CartPole-v1')`;
  * brax (optional extra `gen_jax[brax]`, `brax==0.14.2`): `make_env('brax:hopper')`, or with a physics pipeline
    'brax:hopper@spring' (brax's backends: generalized, positional, spring, mjx). It is not installed
    by default; asking for a brax task without it raises an ImportError naming the extra.

`rollout` runs a policy on a batch of environments: `lax.scan` over time, `vmap` over environments; it is
traced inside the train step, so its batch axis can be sharded over the mesh's data axis.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

CLASSIC_CONTROL = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1")


@dataclasses.dataclass(frozen=True)
class Env:
    """One environment: pure `reset(key)` and auto-resetting `step(key, state, action)` (see module doc).

    Attributes:
      name: the task's name.
      obs_dim: length of the (flat, float32) observation.
      num_actions: number of discrete actions, or 0 for a continuous action space.
      action_dim: 1 for discrete actions (an int32 scalar), else the length of the action vector.
      action_low, action_high: bounds of continuous actions (None for discrete).
      max_steps: the episode's time limit.
    """
    name: str
    obs_dim: int
    num_actions: int
    action_dim: int
    max_steps: int
    reset: Callable = dataclasses.field(repr=False, compare=False)
    step: Callable = dataclasses.field(repr=False, compare=False)
    action_low: object = None
    action_high: object = None

    @property
    def discrete(self) -> bool:
        return self.num_actions > 0

    def random_action(self, key):
        """A uniformly random action (the random-policy baseline)."""
        if self.discrete:
            return jax.random.randint(key, (), 0, self.num_actions)
        return jax.random.uniform(key, (self.action_dim,), minval=self.action_low, maxval=self.action_high)


def _gymnax_env(name: str) -> Env:
    try:
        import gymnax
    except ImportError as e:  # pragma: no cover - gymnax is in requirements.txt
        raise ImportError(f"environment {name!r} needs gymnax, the extra 'rl' of gen_jax (pip install "
                          f"'gen_jax[rl]', i.e. gymnax==1.0.1, pinned in requirements.txt)") from e
    try:
        env, params = gymnax.make(name)
    except (ValueError, KeyError) as e:
        raise ValueError(f"unknown environment {name!r}: gymnax has {', '.join(gymnax.registered_envs)}; "
                         f"brax tasks are named 'brax:<task>'") from e
    space = env.action_space(params)
    discrete = hasattr(space, "n")
    obs_dim = int(env.observation_space(params).shape[0])
    if discrete:
        num_actions, action_dim, low, high = int(space.n), 1, None, None
    else:
        num_actions, action_dim = 0, int(space.shape[0])
        low, high = float(jnp.min(space.low)), float(jnp.max(space.high))

    def reset(key):
        obs, state = env.reset(key, params)
        return obs.astype(jnp.float32).reshape(obs_dim), state

    def step(key, state, action):
        if not discrete:
            action = jnp.clip(action, low, high)
        obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
        final = info["final_observation"].astype(jnp.float32).reshape(obs_dim)
        done = jnp.logical_or(terminated, truncated)
        return (obs.astype(jnp.float32).reshape(obs_dim), state, jnp.asarray(reward, jnp.float32), done,
                {"terminated": jnp.asarray(terminated, bool), "truncated": jnp.logical_and(truncated,
                                                                                           ~terminated),
                 "final_obs": final})

    return Env(name=name, obs_dim=obs_dim, num_actions=num_actions, action_dim=action_dim,
               max_steps=int(params.max_steps_in_episode), reset=reset, step=step, action_low=low,
               action_high=high)


def _brax_env(name: str, max_steps: int = 1000) -> Env:
    task, _, backend = name.split(":", 1)[1].partition("@")
    try:
        from brax import envs as brax_envs
    except ImportError as e:
        raise ImportError(f"environment {name!r} needs brax, the optional extra 'brax' of gen_jax "
                          f"(pip install 'gen_jax[brax]', i.e. brax==0.14.2); it is not installed") from e
    env = brax_envs.get_environment(task, **({"backend": backend} if backend else {}))

    # jitted: brax's reset returns one array in several fields (obs, and a zero shared by reward, done and the
    # metrics); run eagerly (under vmap) those fields would be one buffer, which the train step, donating its
    # state, must not receive twice. A compiled function returns a buffer per output.
    @jax.jit
    def reset(key):
        s = env.reset(key)
        return s.obs, (s, jnp.zeros((), jnp.int32))

    def step(key, state, action):
        s, t = state
        action = jnp.clip(action, -1.0, 1.0)
        n = env.step(s, action)
        t = t + 1
        terminated = n.done > 0.5
        truncated = jnp.logical_and(t >= max_steps, ~terminated)
        done = jnp.logical_or(terminated, truncated)
        fresh_obs, fresh = reset(key)
        obs = jnp.where(done, fresh_obs, n.obs)
        new = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh[0], n)
        return obs, (new, jnp.where(done, 0, t)), n.reward, done, {"terminated": terminated,
                                                                   "truncated": truncated, "final_obs": n.obs}

    return Env(name=name, obs_dim=int(env.observation_size), num_actions=0, action_dim=int(env.action_size),
               max_steps=max_steps, reset=reset, step=step, action_low=-1.0, action_high=1.0)


def make_env(name: str) -> Env:
    """The environment `name`: a gymnax name ('CartPole-v1') or 'brax:<task>[@backend]' (the 'brax' extra)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"config.model.env must name an environment, got {name!r}; e.g. {CLASSIC_CONTROL}")
    if name.startswith("brax:"):
        return _brax_env(name)
    return _gymnax_env(name)


def reset_batch(env: Env, key, num_envs: int):
    """`num_envs` fresh episodes: (obs [E, obs_dim], batched state)."""
    return jax.vmap(env.reset)(jax.random.split(key, num_envs))


def rollout(env: Env, policy: Callable, env_state, obs, key, num_steps: int):
    """`num_steps` steps of a batch of environments under `policy(key, obs [E, D]) -> (action [E...], aux)`.

    `aux` is a dict of per-env arrays (log-probabilities, values) recorded with each step. Returns
    `((env_state, obs), trajectory)` where the trajectory holds [T, E, ...] arrays 'obs' (the observation the
    action was taken in), 'action', 'reward', 'done', 'terminated', 'truncated', 'final_obs' and aux.
    """
    num_envs = obs.shape[0]

    def one(carry, k):
        state, o = carry
        ka, ke = jax.random.split(k)
        action, aux = policy(ka, o)
        o2, state2, reward, done, info = jax.vmap(env.step)(jax.random.split(ke, num_envs), state, action)
        out = dict(obs=o, action=action, reward=reward, done=done, **info, **aux)
        return (state2, o2), out

    return jax.lax.scan(one, (env_state, obs), jax.random.split(key, num_steps))


def episode_returns(env: Env, policy: Callable, key, num_episodes: int, max_steps: int | None = None):
    """Undiscounted returns of `num_episodes` episodes (one per environment, run in parallel until each one's
    first `done`) under `policy(key, obs [E, D]) -> action`. Episode i starts from reset(split(key)[i])."""
    max_steps = int(max_steps or env.max_steps)
    kr, kp = jax.random.split(key)
    obs, state = reset_batch(env, kr, num_episodes)

    def pol(k, o):
        return policy(k, o), {}

    _, traj = rollout(env, pol, state, obs, kp, max_steps)
    alive = jnp.cumprod(1.0 - traj["done"].astype(jnp.float32), axis=0)
    alive = jnp.concatenate([jnp.ones_like(alive[:1]), alive[:-1]], 0)  # the step that ends it still counts
    return jnp.sum(traj["reward"] * alive, axis=0)

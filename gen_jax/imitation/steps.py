"""The imitation family: an expert trained by PPO/TRPO on the true reward, GAIL, behavioural cloning, random.

`config.experiment = 'imitation'`; `config.model.algo` selects what `train_step` does:

* 'rl': the expert. Each step rolls the policy out for `rollout_steps` steps on `num_envs` environments
  (`lax.scan` over time, `vmap` over environments, the environment batch sharded over the data axis), fits
  GAE advantages on the true reward and takes a PPO or TRPO step (`learner`).
* 'gail' (Ho & Ermon 2016, Algorithm 1): the same rollout; then `disc_steps` Adam steps of the discriminator
  D(s, a) on expert pairs vs the rollout's pairs (its own optimizer), then the same PPO/TRPO step on the
  surrogate reward `gail_reward(D(s, a))` ('gail': -log(1 - D), the paper's; 'logit': log D - log(1 - D))
  with the causal-entropy regulariser lambda H(pi) (`entropy_coef`). Both players in one compiled step.
* 'bc': behavioural cloning, Adam minibatch steps on -log pi(a_E | s_E).
* 'random': a uniform random policy (no training; the 0 of the normalised scores).

Expert demonstrations are a data-layer dataset (`model.demos`, e.g. 'npz:/path/demos.npz', written by
`save_demonstrations`; features obs, action, episode, t, episode_return of split `demos_split`): a user's
own demonstrations load the same way. The first `num_trajectories` episodes are loaded once at init and
kept in the train state (`extra['demos']`, replicated): at most a few thousand pairs, so a step samples its
minibatch from device memory with the step's key, a resumed run samples the same pairs without a loader
position, and the number of trajectories is a config number rather than a split computed per file.

State: params/optimizers per player ('policy', 'value', 'discriminator'; TRPO's policy takes natural-gradient
steps and has no optimizer), `extra['env']` (environment states, current observations, running episode
returns: sharded over 'data'), `extra['obs_norm']` (running observation statistics), `extra['demos']`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec as P

from gen_jax.core.experiment import Experiment, register
from gen_jax.imitation import envs as envs_lib
from gen_jax.imitation import losses, rl
from gen_jax.imitation import models as M

ALGOS = ("rl", "gail", "bc", "random")
LEARNERS = ("ppo", "trpo")
DEMO_FEATURES = ("obs", "action", "episode", "t", "episode_return")


def _adam(lr, clip):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr)) if clip else optax.adam(lr)


def load_demonstrations(name: str, split: str = "train", num_trajectories: int = 0, data_dir=None):
    """The first `num_trajectories` episodes (0: all) of a demonstration dataset, as host arrays."""
    from gen_jax import data as data_lib

    arrays = data_lib.load_arrays(name, split, data_dir=data_dir)
    missing = [k for k in ("obs", "action", "episode") if k not in arrays]
    if missing:
        raise ValueError(f"demonstrations {name!r} (split {split!r}) lack feature(s) {missing}; a demonstration "
                         f"dataset holds {DEMO_FEATURES} (see gen_jax.imitation.steps.save_demonstrations)")
    episodes = np.unique(arrays["episode"])
    if num_trajectories:
        if num_trajectories > len(episodes):
            raise ValueError(f"num_trajectories={num_trajectories} but {name!r} holds {len(episodes)} episodes")
        keep = np.isin(arrays["episode"], episodes[:num_trajectories])
        arrays = {k: v[keep] for k, v in arrays.items()}
    return arrays


def save_demonstrations(path: str, traj: dict, split: str = "train"):
    """Writes episodes {'obs': list of [T_i, D], 'action': list of [T_i(, d)], 'reward': list of [T_i]} as an
    npz dataset in the data layer's explicit form: keys '<split>/obs', '<split>/action', '<split>/episode'
    (the episode index of each row), '<split>/t' (the step within it), '<split>/episode_return'."""
    obs = np.concatenate(traj["obs"]).astype(np.float32)
    action = np.concatenate(traj["action"])
    action = action.astype(np.int32) if np.issubdtype(action.dtype, np.integer) else action.astype(np.float32)
    lengths = [len(o) for o in traj["obs"]]
    rets = [float(np.sum(r)) for r in traj["reward"]]
    episode = np.concatenate([np.full(n, i, np.int32) for i, n in enumerate(lengths)])
    t = np.concatenate([np.arange(n, dtype=np.int32) for n in lengths])
    ret = np.concatenate([np.full(n, r, np.float32) for n, r in zip(lengths, rets)])
    np.savez(path, **{f"{split}/obs": obs, f"{split}/action": action, f"{split}/episode": episode,
                      f"{split}/t": t, f"{split}/episode_return": ret,
                      "kind/action": np.asarray("integer" if action.dtype == np.int32 else "continuous"),
                      "kind/episode": np.asarray("integer"), "kind/t": np.asarray("integer")})
    return {"episodes": len(lengths), "steps": int(sum(lengths)), "mean_return": float(np.mean(rets))}


@register("imitation")
class ImitationExperiment(Experiment):
    """See the module docstring; settings under config.model (experiments/configs/imitation_*.py)."""

    eval_per_example = False

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.algo = m.get("algo", "rl")
        if self.algo not in ALGOS:
            raise ValueError(f"config.model.algo must be one of {ALGOS}, got {self.algo!r}")
        self.learner = m.get("learner", "ppo")
        if self.learner not in LEARNERS:
            raise ValueError(f"config.model.learner must be one of {LEARNERS}, got {self.learner!r}")
        self.env = envs_lib.make_env(m.get("env", "CartPole-v1"))
        self.policy = M.Policy(num_actions=self.env.num_actions, action_dim=self.env.action_dim,
                               features=tuple(m.get("policy_features", (64, 64))),
                               init_log_std=float(m.get("init_log_std", 0.0)))
        self.value = M.ValueNet(features=tuple(m.get("value_features", (64, 64))))
        self.disc = M.MLPDiscriminator(features=tuple(m.get("disc_features", (100, 100))))
        self.num_envs = int(m.get("num_envs", 8))
        self.rollout_steps = int(m.get("rollout_steps", 128))
        if self.algo == "gail":
            losses.gail_reward(jnp.zeros(1), m.get("reward", "gail"))  # a bad name fails now
        if self.algo in ("gail", "bc") and not m.get("demos", ""):
            raise ValueError(f"config.model.algo={self.algo!r} needs demonstrations: config.model.demos = "
                             f"'npz:/path/demos.npz' (written by experiments/imitation_pipeline.py)")
        self._eval_fns = {}

    def inputs(self):
        return {}

    # ------------------------------------------------------------------------------------------ the state
    def init_state(self, rng, batch):
        if batch != {}:
            raise ValueError("the imitation family trains on environments, not a dataset: set config.dataset=''")
        m = self.config.model
        k_pi, k_v, k_d, k_env = jax.random.split(rng, 4)
        obs0 = jnp.zeros((1, self.env.obs_dim), jnp.float32)
        params = {"policy": self.policy.init(k_pi, obs0)["params"]}
        clip = float(m.get("max_grad_norm", 0.5))
        tx = {}
        if not (self.algo in ("rl", "gail") and self.learner == "trpo") and self.algo != "random":
            tx["policy"] = _adam(float(m.get("policy_lr", 3e-4)), clip)
        extra = {}
        if self.algo in ("rl", "gail"):
            params["value"] = self.value.init(k_v, obs0)["params"]
            tx["value"] = _adam(float(m.get("value_lr", 1e-3)), clip)
            obs, env_state = envs_lib.reset_batch(self.env, k_env, self.num_envs)
            extra["env"] = {"state": env_state, "obs": obs, "ep_return": jnp.zeros((self.num_envs,))}
            extra["obs_norm"] = rl.norm_init(self.env.obs_dim)
            extra["episodes"] = jnp.zeros((), jnp.int32)
        if self.algo in ("gail", "bc"):
            demos = load_demonstrations(m.demos, m.get("demos_split", "train"), int(m.get("num_trajectories", 0)),
                                        data_dir=self.config.get("data_dir"))
            extra["demos"] = {"obs": jnp.asarray(demos["obs"], jnp.float32), "action": jnp.asarray(demos["action"])}
        if self.algo == "gail":
            a0 = jnp.zeros((1,), jnp.int32) if self.env.discrete else jnp.zeros((1, self.env.action_dim))
            params["discriminator"] = self.disc.init(k_d, M.disc_inputs(obs0, a0, self.env.num_actions))["params"]
            tx["discriminator"] = _adam(float(m.get("disc_lr", 3e-4)), 0.0)
        if self.algo == "bc":
            extra["obs_norm"] = rl.norm_from_data(extra["demos"]["obs"])
        if self.algo == "random":
            extra["obs_norm"] = rl.norm_init(self.env.obs_dim)
        return self.create_state(params, rng, tx=tx or None, extra=extra)

    def state_partition(self, state):
        return {"extra/env": P("data")} if "env" in (state.extra or {}) else {}

    # ----------------------------------------------------------------------------------------- the players
    def policy_apply(self, p, obs):
        return self.policy.apply({"params": p}, obs)

    def value_apply(self, p, obs):
        return self.value.apply({"params": p}, obs)

    def disc_apply(self, p, obs, action):
        return self.disc.apply({"params": p}, M.disc_inputs(obs, action, self.env.num_actions))

    # ---------------------------------------------------------------------------------------- train steps
    def train_step(self, state, batch, rng):
        if self.algo == "bc":
            return self._bc_step(state, rng)
        if self.algo == "random":
            return state, {"return": jnp.zeros(())}
        return self._pg_step(state, rng)

    def _bc_step(self, state, rng):
        m = self.config.model
        demos = state.extra["demos"]
        idx = jax.random.randint(rng, (int(m.get("bc_batch_size", 64)),), 0, demos["obs"].shape[0])
        obs = rl.normalize(state.extra["obs_norm"], demos["obs"][idx])

        def loss_fn(p):
            return jnp.mean(losses.bc_loss(M.log_prob(self.policy_apply(p, obs), demos["action"][idx])))

        loss, g = jax.value_and_grad(loss_fn)(state.params["policy"])
        return state.apply_gradients(g, player="policy"), {"bc_loss": loss}

    def _pg_step(self, state, rng):
        m = self.config.model
        k_roll, k_disc, k_upd, k_v = jax.random.split(rng, 4)
        env = state.extra["env"]
        stats = state.extra["obs_norm"]
        pi_params, v_params = state.params["policy"], state.params["value"]

        def act(k, o):
            no = rl.normalize(stats, o)
            d = self.policy_apply(pi_params, no)
            a = M.sample(k, d)
            return a, {"logp": M.log_prob(d, a), "value": self.value_apply(v_params, no)}

        (env_state, obs), traj = envs_lib.rollout(self.env, act, env["state"], env["obs"], k_roll,
                                                  self.rollout_steps)
        T, E = traj["reward"].shape
        nobs = rl.normalize(stats, traj["obs"])
        next_values = self.value_apply(v_params, rl.normalize(stats, traj["final_obs"]).reshape(T * E, -1))
        next_values = next_values.reshape(T, E)

        def flat(x):
            return x.reshape((T * E,) + x.shape[2:])

        metrics = {}
        reward = traj["reward"]
        if self.algo == "gail":
            state, dm = self._disc_update(state, k_disc, flat(nobs), flat(traj["action"]), stats)
            metrics.update(dm)
            logits = self.disc_apply(state.params["discriminator"], flat(nobs), flat(traj["action"]))
            reward = losses.gail_reward(logits, m.get("reward", "gail")).reshape(T, E)
            metrics["surrogate_reward"] = jnp.mean(reward)
        adv, ret = losses.gae(reward, traj["value"], next_values, traj["terminated"], traj["done"],
                              float(m.get("gamma", 0.99)), float(m.get("lam", 0.95)))
        adv_f = flat(adv)
        if m.get("normalize_advantages", True):
            adv_f = (adv_f - jnp.mean(adv_f)) / (jnp.std(adv_f) + 1e-8)
        batch = {"obs": flat(nobs), "action": flat(traj["action"]), "logp": flat(traj["logp"]),
                 "advantages": adv_f, "returns": flat(ret)}
        ent = float(m.get("entropy_coef", 0.0))
        if self.learner == "ppo":
            state, um = rl.ppo_update(state, batch, k_upd, self.policy_apply, self.value_apply,
                                      epochs=int(m.get("ppo_epochs", 4)),
                                      num_minibatches=int(m.get("num_minibatches", 4)),
                                      clip_eps=float(m.get("clip_eps", 0.2)), entropy_coef=ent)
        else:
            new_pi, um = rl.trpo_step(pi_params, batch, self.policy_apply, max_kl=float(m.get("max_kl", 0.01)),
                                      entropy_coef=ent, cg_iters=int(m.get("cg_iters", 10)),
                                      damping=float(m.get("cg_damping", 0.1)))
            params = dict(state.params)
            params["policy"] = new_pi
            state = state.replace(params=params)
            state, vl = rl.value_update(state, batch, k_v, self.value_apply, int(m.get("value_epochs", 5)),
                                        int(m.get("num_minibatches", 4)))
            um["value_loss"] = vl
        metrics.update(um)

        # true episode returns of the episodes that ended in this rollout
        def track(run, x):
            r, d = x
            run = run + r
            return jnp.where(d, 0.0, run), (run * d, d)

        ep_ret, (ended_ret, ended) = jax.lax.scan(track, env["ep_return"], (traj["reward"], traj["done"]))
        n_ended = jnp.sum(ended)
        metrics["return"] = jnp.where(n_ended > 0, jnp.sum(ended_ret) / jnp.maximum(n_ended, 1), 0.0)
        metrics["episodes_ended"] = n_ended.astype(jnp.float32)
        extra = dict(state.extra)
        extra["env"] = {"state": env_state, "obs": obs, "ep_return": ep_ret}
        extra["obs_norm"] = rl.norm_update(stats, traj["obs"]) if m.get("normalize_obs", True) else stats
        extra["episodes"] = state.extra["episodes"] + n_ended.astype(jnp.int32)
        metrics["episodes"] = extra["episodes"].astype(jnp.float32)
        return state.replace(extra=extra), metrics

    def _disc_update(self, state, key, obs, action, stats):
        """`disc_steps` Adam steps of D on expert pairs (sampled from the demonstrations in the state) vs the
        rollout's pairs, `disc_batch_size` of each per step."""
        m = self.config.model
        demos = state.extra["demos"]
        bs = int(m.get("disc_batch_size", 256))
        e_obs = rl.normalize(stats, demos["obs"])

        def one(state, k):
            ke, kp = jax.random.split(k)
            ie = jax.random.randint(ke, (bs,), 0, demos["obs"].shape[0])
            ip = jax.random.randint(kp, (bs,), 0, obs.shape[0])

            def loss_fn(p):
                le = self.disc_apply(p, e_obs[ie], demos["action"][ie])
                lp = self.disc_apply(p, obs[ip], action[ip])
                acc = 0.5 * (jnp.mean(le > 0) + jnp.mean(lp < 0))
                return jnp.mean(losses.discriminator_loss(le, lp)), acc

            (loss, acc), g = jax.value_and_grad(loss_fn, has_aux=True)(state.params["discriminator"])
            return state.apply_gradients(g, player="discriminator"), (loss, acc)

        state, (loss, acc) = jax.lax.scan(one, state, jax.random.split(key, int(m.get("disc_steps", 1))))
        return state, {"disc_loss": jnp.mean(loss), "disc_accuracy": jnp.mean(acc)}

    # ----------------------------------------------------------------------------------------- evaluation
    def act_fn(self, state, deterministic: bool):
        """policy(key, obs [E, D]) -> actions [E] of the state's policy (uniform for algo='random')."""
        if self.algo == "random":
            return lambda k, o: jax.vmap(self.env.random_action)(jax.random.split(k, o.shape[0]))
        stats, p = state.extra["obs_norm"], state.params["policy"]

        def act(k, o):
            d = self.policy_apply(p, rl.normalize(stats, o))
            return M.mode(d) if deterministic else M.sample(k, d)

        return act

    def episode_returns(self, state, rng, num_episodes, deterministic=True):
        key = (int(num_episodes), bool(deterministic))
        if key not in self._eval_fns:
            def fn(state, rng):
                return envs_lib.episode_returns(self.env, self.act_fn(state, deterministic), rng, num_episodes)

            self._eval_fns[key] = jax.jit(fn)
        return self._eval_fns[key](state, rng)

    def collect(self, state, rng, num_episodes: int, deterministic: bool = False):
        """`num_episodes` whole episodes of the policy as host lists of arrays {'obs', 'action', 'reward'} (for
        demonstrations); each episode is cut at its first `done`."""
        policy = self.act_fn(state, deterministic)

        @functools.partial(jax.jit)
        def run(state, rng):
            kr, kp = jax.random.split(rng)
            obs, env_state = envs_lib.reset_batch(self.env, kr, num_episodes)
            _, traj = envs_lib.rollout(self.env, lambda k, o: (policy(k, o), {}), env_state, obs, kp,
                                       self.env.max_steps)
            return traj

        traj = jax.device_get(run(state, rng))
        out = {"obs": [], "action": [], "reward": []}
        for i in range(num_episodes):
            done = np.asarray(traj["done"][:, i])
            n = int(np.argmax(done)) + 1 if done.any() else len(done)
            out["obs"].append(np.asarray(traj["obs"][:n, i]))
            out["action"].append(np.asarray(traj["action"][:n, i]))
            out["reward"].append(np.asarray(traj["reward"][:n, i]))
        return out

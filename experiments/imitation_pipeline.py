"""GAIL's protocol (Ho & Ermon 2016, Sec. 6 / Figure 1): expert, demonstrations, BC and GAIL vs the number of
expert trajectories, scores normalised so that a random policy is 0 and the expert 1.

    python -m experiments.imitation_pipeline --task=CartPole-v1 --workdir=/tmp/gen_jax/imitation
    python -m experiments.imitation_pipeline --task=Acrobot-v1 --workdir=/tmp/gen_jax/imitation
    python -m experiments.imitation_pipeline --task=Pendulum-v1 --workdir=/tmp/gen_jax/imitation   # 6.5 min
    # brax's Hopper (the extra gen_jax[brax]); N = 4, 11, 18, 25 and 25 demonstrations by default:
    JAX_COMPILATION_CACHE_DIR=/tmp/gen_jax/jax_cache \
        python -m experiments.imitation_pipeline --task=Hopper --workdir=/tmp/gen_jax/imitation

For a task it
  1. trains the expert (experiments/configs/imitation_cartpole_expert.py with the task's overrides, PPO on the
     true reward) in WORKDIR/TASK/expert;
  2. samples `--num_demos` episodes of the expert's stochastic policy and saves them as the demonstration dataset
     WORKDIR/TASK/demos.npz (data-layer npz: train/obs, train/action, train/episode, train/t,
     train/episode_return);
  3. for each number of trajectories N in --trajectories, trains BC (imitation_cartpole_bc.py) and GAIL
     (imitation_cartpole_gail.py) on the first N episodes, in WORKDIR/TASK/{bc,gail}_N;
  4. scores the expert, a uniform random policy, and every learner by the mean undiscounted return of the
     stochastic policy over --eval_episodes episodes from fixed seeds (and the deterministic policy's, shown
     alongside), and prints / writes WORKDIR/TASK/table.md and results.json; normalised = (R - R_random) /
     (R_expert - R_random);
  5. writes learning curves WORKDIR/TASK/curves.png (true return of the rollouts' episodes during expert and
     GAIL training) and WORKDIR/TASK/scores.png (normalised score vs N, the paper's Figure 1 layout).
A re-run with the same workdir resumes or reuses every finished run.
"""
from __future__ import annotations

import json
import os
import time

import jax
import ml_collections
import numpy as np
from absl import app, flags

from experiments.configs import (
    imitation_cartpole_bc,
    imitation_cartpole_expert,
    imitation_cartpole_gail,
)
from gen_jax.core import loop
from gen_jax.imitation.steps import save_demonstrations

flags.DEFINE_string("task", "CartPole-v1", "gymnax task name")
flags.DEFINE_string("workdir", "/tmp/gen_jax/imitation", "output directory")
flags.DEFINE_list("trajectories", ["1", "4", "7", "10"], "numbers of expert trajectories")
flags.DEFINE_integer("num_demos", 10, "expert episodes saved as demonstrations")
flags.DEFINE_integer("eval_episodes", 50, "episodes per score (fixed seeds)")
flags.DEFINE_integer("expert_steps", 0, "override the expert's train steps (0: the task's)")
flags.DEFINE_integer("gail_steps", 0, "override GAIL's train steps (0: the task's)")
flags.DEFINE_integer("bc_steps", 0, "override BC's train steps (0: the task's)")
FLAGS = flags.FLAGS

_PENDULUM_PPO = {"entropy_coef": 0.0, "gamma": 0.9, "policy_lr": 1e-3, "value_lr": 1e-3, "ppo_epochs": 10,
                 "num_minibatches": 8, "rollout_steps": 256}

# The paper's MuJoCo policy (two tanh layers of 100; Ho & Ermon 2016, Sec. 6), stepped by PPO on 64 brax
# environments x 128 steps = 8,192 pairs per train step, minibatches of 1,024.
_HOPPER_PPO = {"num_envs": 64, "rollout_steps": 128, "policy_features": (100, 100), "value_features": (100, 100),
               "init_log_std": -0.5, "entropy_coef": 0.0, "policy_lr": 3e-4, "value_lr": 3e-4, "ppo_epochs": 4,
               "num_minibatches": 8}

# Per-task overrides of the CartPole configs (model fields, and 'steps' for num_train_steps).
TASKS = {
    "CartPole-v1": {"expert": {"steps": 250}, "gail": {"steps": 200}, "bc": {"steps": 2000}},
    # Acrobot's episodes end at the goal: a positive reward -log(1 - D) would pay the policy to avoid it (the
    # survival bias of Kostrikov et al. 2019), so GAIL uses the signed reward log D - log(1 - D).
    "Acrobot-v1": {"expert": {"steps": 250}, "gail": {"steps": 250, "reward": "logit"}, "bc": {"steps": 2000}},
    "MountainCar-v0": {"expert": {"steps": 400, "entropy_coef": 0.01}, "gail": {"steps": 300, "reward": "logit"},
                           "bc": {"steps": 2000}},
    # Pendulum (continuous torque, a Gaussian policy; no termination, 200-step time limit): gamma 0.9 and 10
    # epochs of 8 minibatches over 8 x 256 steps, as RL Zoo's PPO Pendulum settings (Raffin et al. 2021).
    "Pendulum-v1": {"expert": {"steps": 300, **_PENDULUM_PPO}, "gail": {"steps": 300, **_PENDULUM_PPO, "reward": "logit"},
                    "bc": {"steps": 2000}},
    # brax's Hopper (the optional extra gen_jax[brax]) with its spring pipeline, at a CPU budget (see the README).
    # Task-level keys: 'env' (the environment, default: the task's name), 'trajectories' and 'num_demos' (the
    # defaults of the flags), 'checkpoint_every' (a long run can be stopped and resumed), 'evals' False (no
    # evaluator inside training: the pipeline scores every run itself, and each brax evaluation compiles anew).
    "Hopper": {"env": "brax:hopper@spring", "trajectories": (4, 11, 18, 25), "num_demos": 25,
               "checkpoint_every": 25, "evals": False,
               "expert": {"steps": 600, **_HOPPER_PPO}, "gail": {"steps": 300, **_HOPPER_PPO, "disc_steps": 2,
                                                                 "disc_batch_size": 1024},
               "bc": {"steps": 5000, "policy_features": (100, 100), "init_log_std": -0.5}},
}


def _config(module, task, role, override_steps, **model):
    c = module.get_config()
    t = TASKS.get(task, {})
    c.model.env = t.get("env", task)
    spec = dict(t.get(role, {}))
    steps = spec.pop("steps", c.num_train_steps)
    c.num_train_steps = override_steps or steps
    c.eval_every = c.num_train_steps
    c.checkpoint_every = min(t.get("checkpoint_every", c.num_train_steps), c.num_train_steps)
    if not t.get("evals", True):
        c.evals = ml_collections.ConfigDict()
    for k, v in {**spec, **model}.items():
        c.model[k] = v
    return c


def _train(config, workdir):
    t0 = time.time()
    loop.train_and_evaluate(config, workdir)
    trainer = loop.Trainer(config, workdir, mode="eval")
    try:
        state = trainer.restore_or_init()
    finally:
        trainer.close()
    return trainer.experiment, state, time.time() - t0


def _score(exp, state, n):
    key = jax.random.PRNGKey(12345)  # the same episodes' initial states for every policy
    return {"stochastic": float(np.mean(jax.device_get(exp.episode_returns(state, key, n, deterministic=False)))),
            "deterministic": float(np.mean(jax.device_get(exp.episode_returns(state, key, n, deterministic=True))))}


def _curve(workdir, key="return"):
    steps, values = [], []
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("split") == "train" and key in r:
                steps.append(r["step"])
                values.append(r[key])
    return steps, values


def _task_setting(task, name):
    """A flag's value if given on the command line, else the task's default (TASKS), else the flag's default."""
    if FLAGS[name].present or name not in TASKS.get(task, {}):
        return FLAGS[name].value
    return TASKS[task][name]


def run_task(task, root):
    ns = [int(x) for x in _task_setting(task, "trajectories")]
    num_demos = int(_task_setting(task, "num_demos"))
    if max(ns) > num_demos:
        raise ValueError(f"--trajectories up to {max(ns)} need --num_demos >= {max(ns)}, got {num_demos}")
    out = os.path.join(root, task)
    os.makedirs(out, exist_ok=True)
    results = {"task": task, "runs": {}}
    ec = _config(imitation_cartpole_expert, task, "expert", FLAGS.expert_steps)
    exp, state, secs = _train(ec, os.path.join(out, "expert"))
    rollout_size = ec.model.num_envs * ec.model.rollout_steps
    results["expert"] = {**_score(exp, state, FLAGS.eval_episodes), "seconds": secs,
                         "env_steps": ec.num_train_steps * rollout_size}
    rc = _config(imitation_cartpole_expert, task, "expert", 1, algo="random")
    rexp = type(exp)(rc, None)
    results["random"] = _score(rexp, rexp.init_state(jax.random.PRNGKey(0), {}), FLAGS.eval_episodes)
    demos_path = os.path.join(out, "demos.npz")
    traj = exp.collect(state, jax.random.PRNGKey(777), num_demos, deterministic=False)
    results["demos"] = save_demonstrations(demos_path, traj)
    print(f"{task}: expert {results['expert']}, random {results['random']}, demos {results['demos']}", flush=True)
    lo, hi = results["random"]["stochastic"], results["expert"]["stochastic"]
    for n in ns:
        for algo, module, steps in (("bc", imitation_cartpole_bc, FLAGS.bc_steps),
                                    ("gail", imitation_cartpole_gail, FLAGS.gail_steps)):
            c = _config(module, task, algo, steps, demos=f"npz:{demos_path}", num_trajectories=n)
            e, s, secs = _train(c, os.path.join(out, f"{algo}_{n}"))
            sc = _score(e, s, FLAGS.eval_episodes)
            sc["normalised"] = (sc["stochastic"] - lo) / (hi - lo)
            sc["seconds"] = secs
            sc["train_steps"] = c.num_train_steps
            if algo == "gail":
                sc["env_steps"] = c.num_train_steps * c.model.num_envs * c.model.rollout_steps
            results["runs"][f"{algo}_{n}"] = sc
            print(f"{task} {algo} N={n}: {sc}", flush=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    table = _table(results, ns)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table, flush=True)
    _plots(results, out, ns, rollout_size)
    return results


def _table(r, ns):
    e = r["expert"]
    lines = [(f"{r['task']}: expert {e['stochastic']:.1f} (deterministic {e['deterministic']:.1f}), random "
              f"{r['random']['stochastic']:.1f}; mean returns of the stochastic policy over {FLAGS.eval_episodes} "
              f"episodes, normalised: random 0, expert 1"),
             "", "| trajectories | BC return | BC normalised | GAIL return | GAIL normalised |",
             "|---|---|---|---|---|"]
    for n in ns:
        b, g = r["runs"][f"bc_{n}"], r["runs"][f"gail_{n}"]
        lines.append(f"| {n} | {b['stochastic']:.1f} | {b['normalised']:.2f} | {g['stochastic']:.1f} | "
                     f"{g['normalised']:.2f} |")
    return "\n".join(lines)


def _plots(r, out, ns, rollout_size):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    s, v = _curve(os.path.join(out, "expert"))
    ax.plot(np.asarray(s) * rollout_size, v, label="expert (PPO, true reward)", color="k")
    for n in ns:
        s, v = _curve(os.path.join(out, f"gail_{n}"))
        ax.plot(np.asarray(s) * rollout_size, v, label=f"GAIL, {n} trajectories")
    ax.axhline(r["random"]["stochastic"], color="grey", ls=":", label="random")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("true return of the rollout episodes")
    ax.set_title(r["task"])
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    for algo in ("bc", "gail"):
        ax.plot(ns, [r["runs"][f"{algo}_{n}"]["normalised"] for n in ns], "o-", label=algo.upper())
    ax.axhline(1.0, color="k", ls="--", label="expert")
    ax.axhline(0.0, color="grey", ls=":", label="random")
    ax.set_xlabel("number of expert trajectories")
    ax.set_ylabel("normalised return")
    ax.set_title(r["task"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scores.png"), dpi=100)
    plt.close(fig)


def main(argv):
    del argv
    run_task(FLAGS.task, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main)

"""GAIL (Ho & Ermon 2016) on CartPole-v1 from the expert's demonstrations, PPO as the policy step.

Command (after the expert and its demonstrations, which the pipeline writes):
    python -m experiments.run --config=experiments/configs/imitation_cartpole_gail.py \
        --workdir=/tmp/gen_jax/imitation_cartpole_gail \
        --config.model.demos=npz:/tmp/gen_jax/imitation/CartPole-v1/demos.npz --config.model.num_trajectories=4

The discriminator (two hidden layers of 100, the GAN family's MLPDiscriminator) takes `disc_steps` Adam steps per
train step on expert vs policy pairs; the policy is then stepped by PPO on -log(1 - D(s, a)) (the paper's
-log D with its D = 1 - ours; --config.model.reward=logit for log D - log(1 - D)) with the causal entropy
lambda H(pi) as PPO's entropy bonus (entropy_coef = lambda). TRPO as in the paper: --config.model.learner=trpo.
The pipeline (experiments/imitation_pipeline.py) runs it at 1, 4, 7 and 10 trajectories (200 steps on CartPole).
Measured: return 500.0 (normalised 1.00) from 1, 4, 7 and 10 CartPole trajectories, 77-129 s per run; with TRPO
(--config.model.learner=trpo --config.model.num_envs=16 --config.model.rollout_steps=320
--config.num_train_steps=100) 500.0 from 1 trajectory in 102 s.
"""
from experiments.configs import imitation_cartpole_expert


def get_config():
    c = imitation_cartpole_expert.get_config()
    c.model.algo = "gail"
    c.model.demos = "npz:/tmp/gen_jax/imitation/CartPole-v1/demos.npz"
    c.model.num_trajectories = 4
    c.model.entropy_coef = 0.001
    c.model.disc_steps = 2
    c.num_train_steps = 250
    return c

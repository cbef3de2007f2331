"""Imitation learning: GAIL (Ho & Ermon 2016), behavioural cloning, and the PPO/TRPO expert, on JAX envs."""

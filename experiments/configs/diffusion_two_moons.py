"""DDPM on toy2d/two_moons: the ring8 recipe (MLP denoiser, T = 1000 linear, L_simple, EMA) on data divided by 2.0.

Command:
    python -m experiments.run --config=experiments/configs/diffusion_two_moons.py --workdir=/tmp/diffusion_two_moons

Its evaluators score DDPM and DDIM samples at the end (see diffusion_ring8). Expected: see the diffusion
section of the README (energy distance / MMD against held-out data, with
the data-vs-data floor).
"""
from experiments.configs import diffusion_ring8


def get_config():
    return diffusion_ring8.get_config(dataset="toy2d/two_moons", data_scale=2.0, plot_range=3.5)

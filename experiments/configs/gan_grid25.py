"""Non-saturating GAN on the 2-D 5x5 grid of 25 Gaussians (sigma 0.05), MLP players.

Command:
    python -m experiments.run --config=experiments/configs/gan_grid25.py --workdir=/tmp/gen_jax/gan_grid25

The sample grid is a density image of 2,500 samples from a fixed latent batch on [-5, 5]^2. The mode-coverage
table of the README (5 seeds, every loss, PacGAN2) comes from the vmapped script built on the same step:
    python -m experiments.gan_mode_coverage --dataset=grid25
Reference (PacGAN, Lin et al. 2018, Table 1, 10 trials): GAN 17.3 modes / 94.8% high quality / KL 0.70;
PacGAN2 23.8 / 91.3% / 0.13.

Measured (5 seeds, 10,000 steps, this config): non-saturating 22.6 +- 1.6 modes / 10.6% +- 1.9 high quality /
KL 0.54; minimax 21.2 / 11.5% / 0.64; hinge 20.2 / 10.8% / 0.61; PacGAN2 21.8 / 8.7% / 0.66; WGAN-GP FAILS here
(2.0 modes with lambda 0.1, 0 with lambda 10: the critic loses, samples spread far off the grid). Most samples
fall between modes: this config is too small/short for sigma 0.05 (3x256 players: 26% high quality, 17 modes).

Override the loss with e.g. --config.model.loss=wgan_gp, or pack with --config.model.pack=2.
"""
from experiments.configs import gan_ring8


def get_config():
    """gan_ring8 on the grid of 25 Gaussians: the same players, loss and schedule."""
    c = gan_ring8.get_config()
    c.dataset = "toy2d/grid25"
    return c

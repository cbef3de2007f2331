"""Non-saturating GAN on the 2-D ring of 8 Gaussians (sigma 0.01), MLP players.

Command:
    python -m experiments.run --config=experiments/configs/gan_ring8.py --workdir=/tmp/gen_jax/gan_ring8

The sample grid is a density image of 2,500 samples from a fixed latent batch on [-5, 5]^2. The mode-coverage
table of the README (5 seeds, every loss, PacGAN2) comes from the vmapped script built on the same step:
    python -m experiments.gan_mode_coverage --dataset=ring8
Reference (PacGAN, Lin et al. 2018, Table 1, 10 trials): GAN 6.3 modes / 98.2% high quality / KL 0.45;
PacGAN2 7.9 / 95.6% / 0.07.

Measured (5 seeds, 10,000 steps, this config): non-saturating 8.00 +- 0.00 modes / 80.6% +- 3.3 high quality /
KL 0.02; minimax 8.0 / 72.0% / 0.01; WGAN-GP (k=5, lambda 0.1) 7.8 / 73.3% / 0.20; hinge 7.8 / 83.0% / 0.06;
PacGAN2 8.0 / 77.8% / 0.00. Our high-quality fractions stay below the paper's (smaller networks, shorter runs).

Override the loss with e.g. --config.model.loss=wgan_gp, or pack with --config.model.pack=2.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "gan"
    c.dataset = "toy2d/ring8"
    c.batch_size = 128
    c.eval_batch_size = 1000
    c.num_train_steps = 10000
    c.log_every = 200
    c.eval_every = 2000
    c.sample_every = 1000
    c.checkpoint_every = 2000
    c.optim.learning_rate = 5e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.num_train_steps
    c.model = ml_collections.ConfigDict(dict(
        arch="mlp", loss="nonsaturating", penalty="default", gp_weight=0.1, r1_gamma=1.0, d_steps=1, pack=1,
        latent_dim=2, g_features=(128, 128, 128), g_batch_norm=True, d_features=(128, 128),
        spectral_norm=False, conditional=False))
    return c

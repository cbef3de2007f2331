"""Conditional DCGAN (Mirza & Osindero 2014; Radford et al. 2015) on digits, non-saturating loss, Adam(2e-4, beta1 = 0.5).

Command (training, sample grids every `sample_every` steps from a fixed latent batch):
    python -m experiments.run --config=experiments/configs/gan_cgan_digits.py --workdir=/tmp/gen_jax/gan_cgan_digits
Sample quality (trains first if the workdir has no finished run; then the Frechet distance and KID of 1,000
samples against the 360 test digits in the feature space of the library's digits classifier, and class
coverage):
    python -m experiments.gan_digits_quality --config=experiments/configs/gan_cgan_digits.py \
        --workdir=/tmp/gen_jax/gan_cgan_digits
The label enters G as a one-hot vector concatenated to z and D as one-hot maps concatenated to the image
channels; --config.model.d_conditioning=projection switches D to the projection discriminator (Miyato &
Koyama 2018). The sample grid `per_class` has one row per class (same z along a column).
Measured (seed 0, 5,000 steps): Frechet distance 3.92 (train split: 2.35, uniform noise: 232.6), 97.6% of
samples classified as the class asked for, all 10 classes covered, KL from uniform 0.0002.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "gan"
    c.dataset = "digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 5000
    c.log_every = 200
    c.eval_every = 2500
    c.sample_every = 1000
    c.checkpoint_every = 2500
    c.num_samples = 100
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        arch="dcgan", loss="nonsaturating", penalty="default", gp_weight=10.0, r1_gamma=1.0, d_steps=1, pack=1,
        latent_dim=32, g_features=32, d_features=32, d_norm="batch", spectral_norm=False,
        conditional=True, conditioning="onehot", d_conditioning="onehot", embed_dim=16))
    return c

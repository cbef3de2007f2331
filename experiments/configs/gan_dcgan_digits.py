"""DCGAN (Radford et al. 2015) on the embedded 8x8 digits, non-saturating loss, Adam(2e-4, beta1 = 0.5).

Command (training, sample grids every `sample_every` steps from a fixed latent batch, and at the end the
`samples` evaluator: the Frechet distance and KID of 1,000 samples against the 360 test digits in the feature
space of the library's digits classifier, and class coverage):
    python -m experiments.run --config=experiments/configs/gan_dcgan_digits.py --workdir=/tmp/gen_jax/gan_dcgan_digits
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
        conditional=False, conditioning="onehot", d_conditioning="onehot", embed_dim=16))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "samples": dict(kind="samples", every=-1, num_samples=1000, extractor="digits_classifier",
                        kid_subsets=100, kid_subset_size=300),
    })
    return c

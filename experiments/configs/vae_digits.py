"""VAE on the embedded digits (17 grey levels), categorical decoder: the default experiment.

Command:
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/gen_jax/vae_digits

Expected (measured on a 2-core CPU, see README): a few minutes; at the end the test split gives an
ELBO of about -{README value} nats and an IWAE-100 NLL bound a few nats lower. The IWAE-5000 figure of the
README table comes from re-evaluating the checkpoint:
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/gen_jax/vae_digits \
        --mode=eval --config.model.eval_iwae_samples=5000
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "vae"
    c.dataset = "digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 6000
    c.log_every = 100
    c.eval_every = 2000
    c.sample_every = 2000
    c.checkpoint_every = 2000
    c.optim.learning_rate = 1e-3
    c.model = ml_collections.ConfigDict(dict(
        arch="mlp", hidden=(256, 128), features=(32, 64), latent_dim=16,
        likelihood="categorical", binarize="none", beta=1.0, eval_iwae_samples=100))
    return c

"""VAE on the embedded digits (8x8, 17 grey levels) with a categorical decoder: the default experiment.

Command (about 2 minutes on 2 CPU cores):
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/gen_jax/vae_digits

The run evaluates the test split every 1,000 steps (ELBO, its two terms, IWAE-100 bound). The README's
IWAE-5000 figure re-evaluates the final checkpoint:
    python -m experiments.run --config=experiments/configs/vae_digits.py --workdir=/tmp/gen_jax/vae_digits \
        --mode=eval --config.model.eval_iwae_samples=5000

Expected (measured here on freshly prepared digits, seed 0; recorded in experiments/figures.json, re-run by
`python -m experiments.reproduce --only vae_digits vae_digits_iwae5000`): test ELBO -88.1828 nats, IWAE-100
84.4184, IWAE-5000 83.7333 nats per image = 1.888 bits/dim (upper bounds on -log P(x) of the discrete images). About 1.5 minutes on an idle
2-core CPU; the run is deterministic, so the same command gives the same figures.
The data are small (1,437 training images): bigger MLPs overfit within 2,000 steps (test ELBO then falls
while the train ELBO keeps rising), which is why the default is a small conv net with weight decay.
Variants: --config.model.arch=mlp; --config.model.conditional=True (the conditional VAE, one class per
row in the sample grid); vae_binarized_digits.py for the Bernoulli decoder.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "vae"
    c.dataset = "digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 3000
    c.log_every = 100
    c.eval_every = 1000
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.optim.name = "adamw"
    c.optim.learning_rate = 5e-4
    c.optim.weight_decay = 0.1
    c.model = ml_collections.ConfigDict(dict(
        arch="conv", hidden=(256, 128), activation="relu", features=(32, 64), latent_dim=16,
        likelihood="categorical", binarize="none", beta=1.0, conditional=False, eval_iwae_samples=100))
    return c

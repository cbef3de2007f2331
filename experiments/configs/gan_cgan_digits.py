"""Conditional DCGAN (Mirza & Osindero 2014; Radford et al. 2015) on digits, non-saturating loss, Adam(2e-4, beta1 = 0.5).

Command (training, sample grids every `sample_every` steps from a fixed latent batch, and at the end the
`samples` evaluator of gan_dcgan_digits: 100 samples per class, scored as there, plus the fraction classified
as the class asked for):
    python -m experiments.run --config=experiments/configs/gan_cgan_digits.py --workdir=/tmp/gen_jax/gan_cgan_digits
The label enters G as a one-hot vector concatenated to z and D as one-hot maps concatenated to the image
channels; --config.model.d_conditioning=projection switches D to the projection discriminator (Miyato &
Koyama 2018). The sample grid `per_class` has one row per class (same z along a column).
"""
from experiments.configs import gan_dcgan_digits


def get_config():
    """gan_dcgan_digits with the label given to both players."""
    c = gan_dcgan_digits.get_config()
    c.model.conditional = True
    return c

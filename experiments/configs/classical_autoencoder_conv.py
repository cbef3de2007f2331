"""Deterministic convolutional autoencoder on digits (gen_jax.classical, experiment 'autoencoder'), 10-D code.

Command (training on the engine, then the linear probe on the codes):
    python -m experiments.classical_autoencoder --config=experiments/configs/classical_autoencoder_conv.py \
        --workdir=/tmp/gen_jax/classical_autoencoder_conv

Expected (measured on the shared 2-core CPU, about 3 minutes of training): test mean squared error per pixel
(images in [0, 1]) 0.0088, and a logistic-regression test accuracy of 0.956 on the 10-D codes (0.967 on raw
pixels); see the README table of gen_jax.classical.
"""
from experiments.configs import classical_autoencoder_mlp


def get_config():
    c = classical_autoencoder_mlp.get_config()
    c.model.arch = "conv"
    c.model.features = (32, 64)
    return c

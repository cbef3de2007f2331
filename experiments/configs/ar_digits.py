"""Autoregressive models on the embedded digits (8x8, 17 grey levels): exact test NLL.

The config argument picks the model (default pixelcnn):
    python -m experiments.run --config=experiments/configs/ar_digits.py:pixelcnn --workdir=/tmp/ar_digits_pixelcnn
    ... :gated_pixelcnn | :pixelcnn_pp | :row_lstm | :diagonal_bilstm | :gated_pixelcnn_conditional

Each run takes 2-8 minutes on 2 shared CPU cores. The metric is the exact discrete test NLL in nats per
image (`nll_nats`) and bits/dim (`nll_bpd` = nats / (64 ln 2)) over the 360 test images: no bound, no
dequantization (the protocol in `gen_jax.metrics.likelihood`). Expected (measured here after the 1,000 steps
below, seed 0):
    pixelcnn 83.04 nats (1.872 bits/dim)     gated_pixelcnn 80.25 (1.809)     pixelcnn_pp 79.47 (1.791)
    row_lstm 81.92 (1.847)                    diagonal_bilstm 81.80 (1.844)
    gated_pixelcnn_conditional 76.53 (1.725): -log p(x | label), not comparable with the others
(a uniform model: 64 ln 17 = 181.3 nats). All curves were still falling at step 1,000.
Binarized digits (pixel >= 8): ar_binarized_digits.py.
"""
import ml_collections

from gen_jax.core.config import base_config

# Sizes for 8x8 images with 1,437 training images, chosen so that each run takes a few minutes on a shared
# 2-core CPU (the papers' models are far larger; see ar_binarized_mnist.py / ar_cifar10.py).
MODELS = {
    "pixelcnn": dict(features=32, num_blocks=4, first_kernel=7, kernel=3, head_features=64),
    "gated_pixelcnn": dict(features=32, num_layers=4, first_kernel=7, kernel=3, head_features=64),
    "pixelcnn_pp": dict(features=16, num_resnet=1, num_scales=1, dropout=0.1, weight_norm=False),
    "row_lstm": dict(features=32, num_layers=2, first_kernel=7, kernel=3, head_features=64),
    "diagonal_bilstm": dict(features=32, num_layers=1, first_kernel=7, head_features=64),
}


def get_config(arg: str = "pixelcnn"):
    name = arg or "pixelcnn"
    conditional = name.endswith("_conditional")
    name = name[: -len("_conditional")] if conditional else name
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} in the config argument; expected one of {sorted(MODELS)}")
    c = base_config()
    c.experiment = "autoregressive"
    c.dataset = "digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 1000
    c.log_every = 100
    c.eval_every = 500
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.num_samples = 64
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.grad_clip_norm = 1.0
    c.model = ml_collections.ConfigDict(dict(
        name=name, data="levels",
        head="logistic_mixture" if name == "pixelcnn_pp" else "categorical",
        num_mixtures=5 if name == "pixelcnn_pp" else 0,
        conditional=conditional, cached_sampling=True, kwargs=MODELS[name]))
    return c

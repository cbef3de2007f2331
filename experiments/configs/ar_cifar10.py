"""Autoregressive models on CIFAR-10 (32x32x3, 256 levels): test NLL in bits per dimension.

    python -m experiments.run --config=experiments/configs/ar_cifar10.py:pixelcnn_pp \
        --workdir=/tmp/ar_cifar10_pixelcnn_pp
    ... :pixelcnn | :row_lstm | :diagonal_bilstm | :gated_pixelcnn

Needs the catalog dataset `cifar10` prepared with TFDS. Published references (test bits/dim):
  PixelCNN 3.14, Row LSTM 3.07, Diagonal BiLSTM 3.00 (van den Oord et al. 2016a, Table 5);
  Gated PixelCNN 3.03 (van den Oord et al. 2016b, Table 1); PixelCNN++ 2.92 (Salimans et al. 2017, Table 1).
NOT YET VERIFIED HERE: the published models train for days on GPUs; no figure from these configs is claimed.
Sizes: PixelCNN++ as in its paper (5 resnets per stage = num_resnet 5, 160 filters, 3 resolutions,
10 mixtures, dropout 0.5); the PixelRNNs / PixelCNN with 12-15 layers of h = 126 (the papers' 128 rounded to a
multiple of 3, which the R < G < B channel grouping needs); Gated PixelCNN 20 layers of 384.
"""
import ml_collections

from gen_jax.core.config import base_config

REFERENCE_BPD = {"pixelcnn": 3.14, "row_lstm": 3.07, "diagonal_bilstm": 3.00, "gated_pixelcnn": 3.03,
                 "pixelcnn_pp": 2.92}
REFERENCE_SOURCE = ("van den Oord et al. 2016a Table 5; van den Oord et al. 2016b Table 1; Salimans et al. "
                    "2017 Table 1 (not yet verified here)")

MODELS = {
    "pixelcnn": dict(features=126, num_blocks=15, first_kernel=7, kernel=3, head_features=1020),
    "gated_pixelcnn": dict(features=384, num_layers=20, first_kernel=7, kernel=3, head_features=1020),
    "pixelcnn_pp": dict(features=160, num_resnet=5, num_scales=2, dropout=0.5, weight_norm=True),
    "row_lstm": dict(features=126, num_layers=12, first_kernel=7, kernel=3, head_features=1020),
    "diagonal_bilstm": dict(features=126, num_layers=12, first_kernel=7, head_features=1020),
}


def get_config(arg: str = "pixelcnn_pp"):
    name = arg or "pixelcnn_pp"
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} in the config argument; expected one of {sorted(MODELS)}")
    c = base_config()
    c.experiment = "autoregressive"
    c.dataset = "cifar10"
    c.batch_size = 64
    c.eval_batch_size = 200
    c.num_train_steps = 500_000
    c.log_every = 500
    c.eval_every = 10_000
    c.sample_every = 20_000
    c.checkpoint_every = 5_000
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.grad_clip_norm = 1.0
    c.ema_decay = 0.9995 if name == "pixelcnn_pp" else 0.0
    c.model = ml_collections.ConfigDict(dict(
        name=name, data="levels",
        head="logistic_mixture" if name == "pixelcnn_pp" else "categorical",
        num_mixtures=10 if name == "pixelcnn_pp" else 0,
        conditional=False, cached_sampling=True, kwargs=MODELS[name],
        reference_bpd=REFERENCE_BPD[name], reference=REFERENCE_SOURCE))
    return c

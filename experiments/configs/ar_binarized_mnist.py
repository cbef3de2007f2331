"""Autoregressive models on binarized MNIST (28x28, 2 levels): test NLL in nats per image.

    python -m experiments.run --config=experiments/configs/ar_binarized_mnist.py:pixelcnn \
        --workdir=/tmp/ar_binarized_mnist_pixelcnn
    ... :row_lstm | :diagonal_bilstm | :gated_pixelcnn | :pixelcnn_pp

Needs the catalog dataset `binarized_mnist` prepared with TFDS (gen_jax.data explains how; nothing is
downloaded by this library). Published references (van den Oord et al. 2016a, "Pixel Recurrent Neural
Networks", Table 4, test NLL in nats): PixelCNN 81.30, Row LSTM 80.54, Diagonal BiLSTM (7 layers, h = 16)
79.20. The Gated PixelCNN and PixelCNN++ papers report no binarized-MNIST figure.
NOT YET VERIFIED HERE: these runs need hours of accelerator time; no figure from them is claimed.
The sizes below follow the PixelRNN paper where it gives them (Diagonal BiLSTM 7 x 16); the others are
our choice of a comparable size.
"""
import ml_collections

from gen_jax.core.config import base_config

REFERENCE_NLL_NATS = {"pixelcnn": 81.30, "row_lstm": 80.54, "diagonal_bilstm": 79.20,
                      "gated_pixelcnn": None, "pixelcnn_pp": None}
REFERENCE_SOURCE = "van den Oord et al. 2016a, Table 4 (not yet verified here)"

MODELS = {
    "pixelcnn": dict(features=16, num_blocks=7, first_kernel=7, kernel=3, head_features=32),
    "gated_pixelcnn": dict(features=32, num_layers=10, first_kernel=7, kernel=3, head_features=64),
    "pixelcnn_pp": dict(features=64, num_resnet=3, num_scales=2, dropout=0.5, weight_norm=False),
    "row_lstm": dict(features=16, num_layers=7, first_kernel=7, kernel=3, head_features=32),
    "diagonal_bilstm": dict(features=16, num_layers=7, first_kernel=7, head_features=32),
}


def get_config(arg: str = "pixelcnn"):
    name = arg or "pixelcnn"
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} in the config argument; expected one of {sorted(MODELS)}")
    c = base_config()
    c.experiment = "autoregressive"
    c.dataset = "binarized_mnist"
    c.batch_size = 64
    c.eval_batch_size = 200
    c.num_train_steps = 200_000
    c.log_every = 500
    c.eval_every = 10_000
    c.sample_every = 10_000
    c.checkpoint_every = 5_000
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.grad_clip_norm = 1.0
    c.model = ml_collections.ConfigDict(dict(
        name=name, data="levels",
        head="logistic_mixture" if name == "pixelcnn_pp" else "categorical",
        num_mixtures=2 if name == "pixelcnn_pp" else 0,
        conditional=False, cached_sampling=True, kwargs=MODELS[name],
        reference_nll_nats=REFERENCE_NLL_NATS[name], reference=REFERENCE_SOURCE))
    return c

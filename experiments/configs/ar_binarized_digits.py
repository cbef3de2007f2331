"""Autoregressive models on binarized digits (pixel >= 8 -> 1, fixed): exact test NLL in nats per image.

    python -m experiments.run --config=experiments/configs/ar_binarized_digits.py:pixelcnn \
        --workdir=/tmp/ar_bin_digits_pixelcnn
    ... :gated_pixelcnn | :pixelcnn_pp | :row_lstm | :diagonal_bilstm

Same models and sizes as ar_digits.py with a 2-way softmax (PixelCNN++: its logistic mixture over 2 levels).
Binarized digits are reported in nats per image, the way binarized MNIST is (shared/DESIGN.md).
Expected values: README "Autoregressive models" table (measured here).
"""
from experiments.configs import ar_digits


def get_config(arg: str = "pixelcnn"):
    c = ar_digits.get_config(arg)
    c.model.data = "binarized"
    return c

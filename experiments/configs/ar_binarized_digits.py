"""Autoregressive models on binarized digits (pixel >= 8 -> 1, fixed): exact test NLL in nats per image.

    python -m experiments.run --config=experiments/configs/ar_binarized_digits.py:pixelcnn \
        --workdir=/tmp/ar_bin_digits_pixelcnn
    ... :gated_pixelcnn | :pixelcnn_pp | :row_lstm | :diagonal_bilstm

Same models and sizes as ar_digits.py with a 2-way softmax (PixelCNN++: its logistic mixture over 2 levels).
Binarized digits are reported in nats per image, the way binarized MNIST is (shared/DESIGN.md).
Expected (measured here, test NLL in nats after 1,000 steps; in brackets the step-500 evaluation of the
same run): pixelcnn 20.04 (18.37), gated_pixelcnn 18.43 (17.62), pixelcnn_pp 18.54 (17.74),
row_lstm 18.20 (17.79), diagonal_bilstm 18.33 (18.58). With 1,437 training images every model overfits
(train NLL 13-14.5 nats at step 1,000); no regularization was tuned.
"""
from experiments.configs import ar_digits


def get_config(arg: str = "pixelcnn"):
    c = ar_digits.get_config(arg)
    c.model.data = "binarized"
    return c

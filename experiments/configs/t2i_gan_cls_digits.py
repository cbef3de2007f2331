"""GAN-INT-CLS (Reed et al. 2016b) and its ablations on captioned_digits (8x8): t2i_gan_cls_mnist5k's model
at the budget this CPU affords for the four-way ablation (mnist5k's 28x28 steps cost about 12 times more).

Command (the text encoder trained on captioned_mnist5k's captions is loaded from its path, or trained there:
the captions of both datasets share one grammar and vocabulary; at the end the `attributes` evaluator scores
one image for each of the 360 test captions):
    python -m experiments.run --config=experiments/configs/t2i_gan_cls_digits.py --workdir=/tmp/gen_jax/t2i_digits_gan_int_cls
    python -m experiments.run --config=experiments/configs/t2i_gan_cls_digits.py --workdir=/tmp/gen_jax/t2i_digits_gan --config.model.variant=gan
The 8x8 digits fill their frame, so size and position are nearly constant (class, thickness and slant are
what the captions vary); the thresholds of `captioned.attributes` are those of digits (source 'digits').
"""
from experiments.configs import t2i_gan_cls_mnist5k


def get_config():
    c = t2i_gan_cls_mnist5k.get_config()
    c.dataset = "captioned_digits"
    c.batch_size = 64
    c.eval_batch_size = 120
    c.num_train_steps = 400
    c.sample_every = 500
    c.checkpoint_every = 500
    c.evals.attributes.extractor = "classifier:captioned_digits"
    c.evals.attributes.classifier_cache = "/tmp/gen_jax/classifier_captioned_digits.msgpack"
    return c

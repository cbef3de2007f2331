"""GAN-INT-CLS (Reed et al. 2016b) on captioned_mnist5k, and its ablations GAN / GAN-CLS / GAN-INT by
--config.model.variant, with the library's frozen word-CNN-RNN text encoder.

Command (the text encoder is trained on first use, about a minute of CPU, and saved to
config.text_encoder.path, which the other variants then load; at the end the `attributes` evaluator draws one
image for each of the 1,000 test images' held-out captions and scores it: class by the library's
captioned_mnist5k classifier, thickness / slant / size / position measured by `captioned.attributes`, and the
Frechet distance in that classifier's features; sample grids `per_caption` and `caption_interpolation` go to
workdir/samples, their captions to workdir/grid_captions.txt):
    python -m experiments.run --config=experiments/configs/t2i_gan_cls_mnist5k.py --workdir=/tmp/gen_jax/t2i_gan_int_cls
    python -m experiments.run --config=experiments/configs/t2i_gan_cls_mnist5k.py --workdir=/tmp/gen_jax/t2i_gan_cls --config.model.variant=gan_cls
Expected (Reed et al.'s ordering): the matching-aware variants (CLS) follow their captions better than plain
GAN; see the README's text-to-image table for the measured figures and budgets.

Scaled from the paper by config only: DCGAN widths 32 (the paper: 64 at 64x64), z 100, phi(t) compressed to
128 as in the paper, Adam(2e-4, beta1 0.5), batch 32 (the paper: 64), 800 steps (6.4 epochs of the 4,000 train images;
the budget of the README figures, minutes of CPU).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "text2image"
    c.dataset = "captioned_mnist5k"
    c.batch_size = 32
    c.eval_batch_size = 200
    c.num_train_steps = 800
    c.log_every = 100
    c.eval_every = 0
    c.sample_every = 400
    c.checkpoint_every = 400
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.model = ml_collections.ConfigDict(dict(
        variant="gan_int_cls", int_beta=0.5, latent_dim=100, g_features=32, d_features=32, d_norm="batch",
        proj_dim=128, g_steps=1, standardize_embedding=True))
    c.text_encoder = ml_collections.ConfigDict(dict(
        path="/tmp/gen_jax/t2i_text_encoder_mnist5k.msgpack", dataset="captioned_mnist5k", steps=1500,
        batch_size=64, learning_rate=1e-3, seed=0, margin=1.0, word_dim=32, conv_features=64, hidden=64,
        embed_dim=64, image_features=(32, 64)))
    c.evals = ml_collections.ConfigDict({
        "attributes": dict(kind="caption_attributes", every=-1, extractor="classifier:captioned_mnist5k",
                           num_examples=0,
                           classifier_cache="/tmp/gen_jax/classifier_captioned_mnist5k.msgpack"),
    })
    return c

"""The anime-character GAN (Jin et al. 2017) on the tags of captioned_mnist5k: an SRResNet generator on
[z, tags], a discriminator with an auxiliary multi-label tag classifier, and the DRAGAN penalty (Kodali et al.
2017) with lambda 0.5 as in Jin et al.; --config.model.dragan_weight=0 trains without it.

Command (at the end the `attributes` evaluator draws one image for the tags of each of the 1,000 test images
and scores them as t2i_gan_cls_mnist5k does: the tag groups digit, thickness, slant, size and position;
sample grids per tag set (`per_caption`) and interpolations between tag vectors go to workdir/samples):
    python -m experiments.run --config=experiments/configs/t2i_anime_mnist5k.py --workdir=/tmp/gen_jax/t2i_anime
    python -m experiments.run --config=experiments/configs/t2i_anime_mnist5k.py --workdir=/tmp/gen_jax/t2i_anime_nodragan --config.model.dragan_weight=0

Scaled from the paper by config only: 16 residual blocks of width 64 in the paper, here `num_blocks` 4 of
width 32; two sub-pixel upsamplings (7 -> 14 -> 28; the paper: three, 16 -> 128); lambda_adv = the number of
tags (27; Jin et al.: 34, their number of tags); Adam(2e-4, beta1 0.5) (Jin et al.: beta1 0.5), batch 32,
800 steps (the budget of the README figures).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "anime_gan"
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
        latent_dim=100, g_features=32, num_blocks=4, num_upsamples=2, d_features=32, d_stages=2, d_blocks=1,
        adv_weight=0.0, dragan_weight=0.5, d_tags_on_fake=False))
    c.evals = ml_collections.ConfigDict({
        "attributes": dict(kind="caption_attributes", every=-1, extractor="classifier:captioned_mnist5k",
                           num_examples=0,
                           classifier_cache="/tmp/gen_jax/classifier_captioned_mnist5k.msgpack"),
    })
    return c

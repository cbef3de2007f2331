"""DiscoGAN (Kim et al. 2017) between mnist5k digits (A) and inverted digits (B, mnist5k_inverted):
encoder-decoder generators (4x4 stride-2 convolutions with LeakyReLU down to 4x4, transposed convolutions with
ReLU up; no skips), two discriminators, the standard GAN loss and the two squared-distance reconstruction
losses, Adam(2e-4, beta1 = 0.5; the paper's betas 0.5 / 0.999). Scaled down in width (16 base features
instead of 64) and depth (3 levels for 28x28 images edge-padded to 32; the paper: 4 at 64x64). The
discriminator is the PatchGAN with a 34x34 receptive field, which covers the whole 28x28 image at every output
(the paper's D ends in one logit for the image), averaged over its 5x5 outputs.

Command (train; at the end, for each direction, the accuracy of the library's target-domain classifier on
the translated test images for the source label, and the cycle reconstruction error):
    python -m experiments.run --config=experiments/configs/translation_discogan_inverted.py \
        --workdir=/tmp/gen_jax/discogan
Results (README "Image-to-image translation").
"""
import ml_collections

from experiments.configs import translation_cyclegan_inverted


def get_config():
    c = translation_cyclegan_inverted.get_config()
    c.experiment = "discogan"
    c.optim = ml_collections.ConfigDict(dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999, eps=1e-8,
                                             weight_decay=0.0, grad_clip_norm=0.0, warmup_steps=0,
                                             schedule="constant", num_steps=0))
    c.model = ml_collections.ConfigDict(dict(
        feature_a="x", feature_b="x", reconstruction_weight=1.0,
        generator=dict(arch="encoder_decoder", features=16, num_downs=3, max_features=128, norm="instance"),
        discriminator=dict(receptive_field=34, features=16, max_features=128, norm="instance")))
    return c

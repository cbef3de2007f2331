"""Pix2Pix (Isola et al. 2017) on edges2digits (edges -> digit, the edges2shoes protocol on mnist5k): U-Net
generator with dropout as its noise (on at test time too), 16x16 PatchGAN on (edges, digit) pairs, cGAN +
100 L1, Adam(2e-4, beta1 = 0.5). Scaled down only in width (16 base features instead of 64), depth (5 down
levels: 28x28 is edge-padded to 32x32, whose bottleneck is 1x1 as the paper's 256x256 is at 8 levels) and the
patch (16x16 of a 28x28 image, about the 70x70-of-256 share), batch 16 (the paper: 1-4), no random jitter (a
mirrored digit is another glyph).

Command (train; at the end L1 / PSNR / SSIM of G(edges) against the 1,000 test digits, and the FCN-score
analogue: the accuracy of the library's mnist5k classifier on the translations, for the source digit's label):
    python -m experiments.run --config=experiments/configs/translation_pix2pix_edges2digits.py \
        --workdir=/tmp/gen_jax/pix2pix
The paper's "L1 only" baseline (Table 1): add --config.model.gan_weight=0; "cGAN only": --config.model.l1_weight=0.
Result (800 steps, commit 44383e9, ~9 min on a loaded shared 2-core CPU): L1 0.0400, PSNR 20.24 dB, SSIM 0.857,
classifier accuracy 0.892 (real digits 0.949); L1 only: 0.0417, 20.11, 0.852, 0.882.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "pix2pix"
    c.dataset = "edges2digits"
    c.batch_size = 16
    c.eval_batch_size = 200
    c.num_train_steps = 800
    c.log_every = 100
    c.eval_every = 0
    c.sample_every = 400
    c.checkpoint_every = 400
    c.num_samples = 8
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.model = ml_collections.ConfigDict(dict(
        source="edges", target="x", l1_weight=100.0, gan_weight=1.0, test_dropout=True,
        generator=dict(arch="unet", features=16, num_downs=5, max_features=128, dropout=0.5, num_dropout=3,
                       norm="instance"),
        discriminator=dict(receptive_field=16, features=16, max_features=128, norm="instance")))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "recon": dict(kind="reconstruction", every=-1),
        "fcn": dict(kind="translation", every=-1, direction="AB", classifier="mnist5k"),
    })
    return c

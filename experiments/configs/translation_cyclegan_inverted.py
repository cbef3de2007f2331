"""CycleGAN (Zhu et al. 2017) between mnist5k digits (A) and inverted digits (B, mnist5k_inverted), two
independently shuffled loaders: ResNet generators (reflection padding, instance norm, 6 residual blocks: the
paper's 128x128 setting), 16x16 PatchGAN discriminators, least-squares GAN loss, cycle loss lambda = 10,
identity loss 0.5 lambda, a history pool of 50 generated images per discriminator (in the checkpointed
state), Adam(2e-4, beta1 = 0.5) constant for the first half of training and decaying linearly to 0.
Scaled down only in width (16 base features instead of 64) and batch (8; the paper: 1).

Command (train; at the end, for each direction, the FCN-score analogue -- the accuracy of a library-trained
classifier of the target domain on the translated test images, for the source digit's label -- and the
cycle reconstruction error L1 / PSNR):
    python -m experiments.run --config=experiments/configs/translation_cyclegan_inverted.py \
        --workdir=/tmp/gen_jax/cyclegan
mnist5k <-> mnistm (colour photo patches; no identity loss, the domains differ in channels):
    ... --config.inputs.B.dataset=mnistm --config.model.identity_weight=0 --config.evals.fcn_ab.classifier=mnistm \
        --config.evals.fcn_ba.dataset=mnistm
Result (400 steps, commit 44383e9): classifier accuracy A->B 0.198, B->A 0.234 (real 0.923 / 0.949); cycle
L1 0.066 / 0.064, PSNR 15.7 dB: the cycle is tight long before the translations keep the digit (see README).
"""
import ml_collections

from gen_jax.core.config import base_config

STEPS = 400


def get_config():
    c = base_config()
    c.experiment = "cyclegan"
    c.dataset = "mnist5k"                       # domain A, and the default evaluation dataset
    c.inputs = ml_collections.ConfigDict({
        "A": dict(dataset="mnist5k", split="train"),
        "B": dict(dataset="mnist5k_inverted", split="train"),
    })
    c.batch_size = 8
    c.eval_batch_size = 200
    c.num_train_steps = STEPS
    c.log_every = 100
    c.eval_every = 0
    c.sample_every = 200
    c.checkpoint_every = 200
    c.num_samples = 8
    c.optim = ml_collections.ConfigDict(dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999, eps=1e-8,
                                             schedule="linear_decay", num_steps=STEPS, decay_start=STEPS // 2))
    c.model = ml_collections.ConfigDict(dict(
        feature_a="x", feature_b="x", cycle_weight=10.0, identity_weight=0.5, pool_size=50,
        generator=dict(arch="resnet", features=16, num_blocks=6, num_downsamples=2, norm="instance"),
        discriminator=dict(receptive_field=16, features=16, max_features=128, norm="instance")))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "fcn_ab": dict(kind="translation", every=-1, direction="AB", classifier="mnist5k_inverted"),
        "fcn_ba": dict(kind="translation", every=-1, direction="BA", classifier="mnist5k",
                       dataset="mnist5k_inverted"),
    })
    return c

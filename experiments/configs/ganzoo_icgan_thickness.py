"""IcGAN (Perarnau et al. 2016) on `thickness_digits`: mnist5k digits redrawn at 4 stroke thicknesses, the
attribute vector y = (class, thickness level), identity = the digit's own style (faces, the paper's CelebA,
are not available offline).

A conditional DCGAN of the GAN family on the joint label class * 4 + level (G: embedding, D: projection,
Miyato & Koyama 2018), the encoders E_z (on generated images, L2 to z) and E_y (on real images, cross-entropy of class and
level), trained together; Adam(2e-4, beta1 = 0.5). Measurement (`attribute_edit` evaluator, 400 test images):
reconstruction G(E_z(x), E_y(x)) (a class classifier trained on the real images keeps the class: identity),
level edits G(E_z(x), (c, l)) for l = 0..3 (the MEASURED stroke thickness falls in level l's bin; the class is
kept), class edits G(E_z(x), (c', l)) (the classifier reads c').

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_icgan_thickness.py \
        --workdir=/tmp/gen_jax/ganzoo_icgan_thickness
Result (500 steps): E_y accuracy class 0.937 / level 0.959; reconstruction class kept 0.165; level edits in the
target thickness bin 0.256 (chance 0.25), class kept 0.161; class edits 0.091 (chance 0.10): the cGAN ignores its
label at this budget.
"""
import ml_collections

from gen_jax.core.config import base_config

STEPS = 500


def get_config(kind="icgan"):
    c = base_config()
    c.experiment = kind
    c.dataset = "thickness_digits"
    c.batch_size = 32
    c.eval_batch_size = 200
    c.eval_split = "test"
    c.num_train_steps = STEPS
    c.log_every = 100
    c.eval_every = STEPS
    c.sample_every = 250
    c.checkpoint_every = 250
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        arch="dcgan", conditional=True, conditioning="embed", d_conditioning="projection", embed_dim=16,
        loss="nonsaturating", latent_dim=32, g_features=16, d_features=16, d_norm="batch", e_features=16,
        e_norm="batch", class_feature="label" if kind == "icgan" else "", attribute_feature="thickness_level",
        search_steps=100, search_lr=0.05, recogniser_arch="mlp", recogniser_steps=1500, recogniser_seed=1))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", split="test[:1000]"),
        "edit": dict(kind="attribute_edit", every=-1, split="test", num_examples=400, batch_size=100),
    })
    return c

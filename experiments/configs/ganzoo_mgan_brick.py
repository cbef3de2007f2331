"""MGAN (Li & Wand 2016, Markovian GANs) texture synthesis of scikit-image's brick texture (`texture_crops`,
train[:1000] = the brick crops; scored on test[:100], the held-out brick rows), with the library's own feature
extractor (no pretrained VGG offline; see gen_jax/ganzoo/mgan.py), a Markovian discriminator on 10x10-pixel
neural patches (3x3 cells of the extractor's layer 1), hinge loss, plus the Gram texture loss. The
non-adversarial baseline is the same generator with the Gram loss alone: --config.model.adv_weight=0.

Commands:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_mgan_brick.py \
        --workdir=/tmp/gen_jax/ganzoo_mgan
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_mgan_brick.py \
        --workdir=/tmp/gen_jax/ganzoo_mgan_gram --config.model.adv_weight=0
Result (seed 0, 600 steps, 8-10 min each on the loaded shared 2-core CPU; split 'texture' of metrics.jsonl,
100 generated 32x32 crops against the 100 held-out brick crops, in the features of an independently trained
second extractor; lower is better):
                                   Gram distance   patch Frechet
    MGAN (adversarial + Gram)      1.962           5.917
    Gram loss alone (baseline)     1.992           6.099
    real brick train crops         0.153           0.041    (the floor: real vs real)
    real gravel crops              1.390           1.114    (another texture)
Both generators are POOR at this budget: they collapsed to a fine periodic stripe pattern (see the swatches)
that is further from the brick statistics than another texture is; MGAN's discriminator saturated (hinge
d_loss ~1e-5 from step 200). MGAN is only marginally better than the baseline (one seed: not significant).
Texture swatches: workdir/samples/swatches_*.png (64x64, twice the training crop), samples_*.png.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "mgan"
    c.dataset = "texture_crops"
    c.train_split = "train[:1000]"
    c.eval_split = "test[:100]"
    c.batch_size = 16
    c.eval_batch_size = 100
    c.num_train_steps = 600
    c.log_every = 100
    c.eval_every = 600
    c.sample_every = 600
    c.checkpoint_every = 300
    c.optim.learning_rate = 1e-3
    c.optim.b1 = 0.5
    c.model = ml_collections.ConfigDict(dict(
        patch=10, d_features=32, g_features=32, z_channels=8, f_features=16, f_steps=500, extractor_split="train",
        adv_weight=1.0, texture_weight=1.0, tv_weight=0.0))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean", every=-1),
        "texture": dict(kind="texture_stats", every=-1, reference_split="train[:100]", other_split="test[200:]"),
    })
    return c

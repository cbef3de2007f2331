"""DTN (Taigman et al. 2017) from MNIST-M-style digits (source, `mnistm`: digits blended over colour photo
patches) to mnist5k digits (target), the offline stand-in for the paper's SVHN -> MNIST.

f = the penultimate 128-unit layer of a classifier trained on mnistm's train labels (the library's MLP
`ImageClassifier`, fixed), g = a GAN-family DCGAN generator on f(x), a three-way DCGAN discriminator; the
paper's digit weights alpha = beta = 15 (f-constancy, TID), gamma = 0 (no TV); Adam(2e-4, beta1 = 0.5).
Unpaired domains: source = mnistm train[:2000], target = mnist5k train[2000:] (disjoint digit rows).
Measurement (`translation` evaluator): the accuracy of a classifier trained on REAL mnist5k images on
g(f(x)) of the 1,000 mnistm test images, for the source digit's label (the paper's Table 2 protocol; it
reports 84.4% for SVHN -> MNIST), beside that classifier's accuracy on real mnist5k test digits.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_dtn_mnistm.py \
        --workdir=/tmp/gen_jax/ganzoo_dtn_mnistm
Result (1,500 steps, 4.5 min on a loaded 2-core CPU): translated-source accuracy 0.227 (real mnist5k 0.949;
chance 0.10; the paper: 0.844 for SVHN -> MNIST).
"""
import ml_collections

from gen_jax.core.config import base_config

STEPS = 1500


def get_config():
    c = base_config()
    c.experiment = "dtn"
    c.dataset = "mnistm"                           # the source domain (eval split: its test split)
    c.inputs = ml_collections.ConfigDict({
        "source": dict(dataset="mnistm", split="train[:2000]", features=("x", "label")),
        "target": dict(dataset="mnist5k", split="train[2000:]", features=("x",)),
    })
    c.batch_size = 32
    c.eval_batch_size = 200
    c.num_train_steps = STEPS
    c.log_every = 100
    c.eval_every = STEPS
    c.sample_every = 300
    c.checkpoint_every = 300
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        f_arch="mlp", f_steps=1500, f_split="train", g_features=16, d_features=16, d_norm="layer",
        const_weight=15.0, tid_weight=15.0, tv_weight=0.0, feature_source="x", feature_target="x"))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "dtn": dict(kind="translation", every=-1, direction="AB", classifier="mnist5k", label="label"),
    })
    return c

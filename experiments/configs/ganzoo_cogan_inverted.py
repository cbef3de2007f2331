"""CoGAN (Liu & Tuzel 2016) on mnist5k digits <-> inverted digits (255 - x), the paper's MNIST "negative" task.

Unpaired domains, as in the paper: domain A is the first half of mnist5k's training split, domain B the
inverted digits of the second half (`mnist5k_inverted`), so no image has its counterpart in the other domain.
Two GAN-family DCGAN generators share every layer but the output one; two discriminators share every layer
but the input one; both generators get the same z; non-saturating loss, Adam(2e-4, beta1 = 0.5).
Measurement (`pair_consistency` evaluator, 1,000 generated pairs): the pixel agreement ratio of G2(z) with
255 - G1(z) (tolerance 0.1 of the range), the fraction of pairs agreeing on >= 90% of the pixels, and the
same for mismatched pairs (chance level).

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_cogan_inverted.py \
        --workdir=/tmp/gen_jax/ganzoo_cogan_inverted
Result (seed 0, 1,500 steps, 4 min on a loaded 2-core CPU): pixel agreement 0.937, pairs >= 90% agreement
0.996; mismatched pairs (chance) 0.745 and 0.000. The digits are still poorly formed at this budget, but each
G2(z) is visibly the negative of G1(z) (samples/pairs_*.png: rows alternate G1 and G2 on the same latents).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config(transform="invert"):
    c = base_config()
    c.experiment = "cogan"
    c.dataset = "mnist5k"
    second = ("mnist5k_inverted", "x") if transform == "invert" else ("edges2digits", "edges")
    c.inputs = ml_collections.ConfigDict({
        "A": dict(dataset="mnist5k", split="train[:2000]", features=("x",)),
        "B": dict(dataset=second[0], split="train[2000:]", features=(second[1],)),
    })
    c.batch_size = 32
    c.eval_batch_size = 100
    c.num_train_steps = 1500
    c.log_every = 100
    c.eval_every = 1500
    c.sample_every = 500
    c.checkpoint_every = 500
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        arch="dcgan", loss="nonsaturating", penalty="default", latent_dim=32, g_features=16, d_features=16,
        d_norm="batch", feature_a="x", feature_b=second[1], g_private_layers=1, d_private_layers=1))
    c.evals = ml_collections.ConfigDict({
        "pairs": dict(kind="pair_consistency", every=-1, num_pairs=1000, batch_size=100, transform=transform,
                      pixel_tol=0.1, pair_threshold=0.9),
    })
    return c

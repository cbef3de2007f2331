"""CoGAN (Liu & Tuzel 2016) on mnist5k digits <-> their edge maps (`edges2digits`' `edges`), the paper's MNIST
edge task; the same model and budget as ganzoo_cogan_inverted.py (see there).

Unpaired: domain A is the first half of mnist5k's training split, domain B the edge maps of the second half.
Measurement (`pair_consistency`, 1,000 generated pairs): the pixel agreement of the binarised G2(z) with the
edge map of G1(z) by the rule that built the dataset (`gen_jax.data.edges2digits.edge_map`), the fraction of
pairs agreeing on >= 90% of the pixels, and the same for mismatched pairs (chance level: most pixels of both
are background).

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_cogan_edges.py \
        --workdir=/tmp/gen_jax/ganzoo_cogan_edges
Result (RESULT_PLACEHOLDER)
"""
from experiments.configs import ganzoo_cogan_inverted


def get_config():
    return ganzoo_cogan_inverted.get_config(transform="edges")

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
Result (seed 0, 1,500 steps, about 6 min on a loaded 2-core CPU): NOT coupled yet. Pixel agreement 0.785,
pairs >= 90% agreement 0.008, against 0.805 and 0.001 for mismatched pairs: at this budget G2 draws speckled
texture rather than one-pixel outlines (samples/pairs_1500.png), so its binarised output agrees with the edge
map of G1(z) no better than chance. Liu & Tuzel train far longer; a longer run is the next thing to try.
"""
from experiments.configs import ganzoo_cogan_inverted


def get_config():
    return ganzoo_cogan_inverted.get_config(transform="edges")

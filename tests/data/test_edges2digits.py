"""edges2digits: outer morphological gradient of the 50% ink mask, paired with the mnist5k digit."""
import numpy as np

from gen_jax.data import _derived, edges2digits
from tests.data.derived_checks import check_split_and_source


def test_the_edge_map_of_a_square_is_the_ring_around_it():
    img = np.zeros((12, 12), np.uint8)
    img[3:8, 4:9] = 200            # a filled 5x5 square at rows 3..7, columns 4..8
    img[5, 6] = 127                # an interior pixel below the threshold is a hole: its 8 neighbours are ink
    e = edges2digits.edge_map(img)
    ring = np.zeros((12, 12), bool)
    ring[2:9, 3:10] = True
    ring[3:8, 4:9] = False
    want = ring.copy()
    want[5, 6] = True              # the hole is outlined too
    np.testing.assert_array_equal(e.astype(bool), want)
    assert e.dtype == np.uint8 and set(np.unique(e)) == {0, 1}
    # a batch is the stack of its images; an empty image has no edges
    stack = edges2digits.edge_map(np.stack([img, np.zeros_like(img)]))
    np.testing.assert_array_equal(stack[0], e)
    assert not stack[1].any()


def test_the_dataset_pairs_each_digit_with_its_edge_map(data_dir):
    splits = check_split_and_source("edges2digits", data_dir)
    images = _derived.source("mnist5k").images
    for a in splits.values():
        np.testing.assert_array_equal(a["x"][..., 0], images[a["index"]])
        np.testing.assert_array_equal(a["edges"][..., 0], edges2digits.edge_map(images[a["index"]]))
        # an outline, not ink: no edge pixel is ink and every ink pixel's outer neighbours hold one
        assert not (a["edges"][..., 0].astype(bool) & (a["x"][..., 0] >= 128)).any()
        assert (a["edges"].reshape(len(a["edges"]), -1).sum(1) > 20).all()  # every digit has an outline

"""voxel_shapes: procedural SDF shapes, stored examples equal their rule, balanced classes, no network."""
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import voxel_shapes as vs


@pytest.mark.usefixtures("no_network")
def test_stored_shapes_follow_the_rule(data_dir):
    info = data.dataset_info("voxel_shapes/16", data_dir=data_dir)
    assert info.shape == (16, 16, 16, 1) and info.num_levels == 2 and info.num_classes == 5
    assert info.splits == {"train": vs.NUM_TRAIN, "test": vs.NUM_TEST}
    a = data.load_arrays("voxel_shapes/16", "test", data_dir=data_dir)
    np.testing.assert_array_equal(a["index"], np.arange(vs.NUM_TRAIN, vs.NUM_TRAIN + vs.NUM_TEST))
    np.testing.assert_array_equal(np.bincount(a["label"]), [100] * 5)
    for k in (0, 3, 499):
        e = vs.example(int(a["index"][k]))
        np.testing.assert_array_equal(a["x"][k], e["x"])
        assert a["label"][k] == e["label"]
    fill = a["x"].reshape(len(a["x"]), -1).mean(1)
    assert fill.min() > 0.003 and fill.max() < 0.7          # no empty or full grid
    # the classes differ in how much of the grid they fill (tori and cones less than boxes and cylinders)
    means = [fill[a["label"] == c].mean() for c in range(5)]
    assert means[3] < means[1] and means[4] < means[2]

"""texture_crops: crops of scikit-image's brick / grass / gravel at half size; stored crops follow the rule, the
split is ordered by texture, held-out crops come from rows no train crop touches; no network."""
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import texture_crops as tc


@pytest.mark.usefixtures("no_network")
def test_stored_crops_follow_the_rule(data_dir):
    info = data.dataset_info("texture_crops", data_dir=data_dir)
    assert info.splits == {"train": 3000, "test": 300} and info.num_classes == 3
    pics = tc.textures()
    assert all(p.shape == (256, 256) for p in pics)
    np.testing.assert_array_equal(pics[0][:2, :2], np.round(
        np.asarray(__import__("skimage.data").data.brick()[:4, :4], float).reshape(2, 2, 2, 2).mean((1, 3))))
    for split, rows in (("train", (0, 192)), ("test", (192, 256))):
        a = data.load_arrays("texture_crops", split, data_dir=data_dir)
        per = tc.PER_TEXTURE[split]
        np.testing.assert_array_equal(a["label"], np.repeat(np.arange(3), per))   # ordered by texture
        assert a["position"][:, 0].min() >= rows[0] and a["position"][:, 0].max() + 32 <= rows[1]
        for k in (0, per + 7, 3 * per - 1):
            t, i = int(a["label"][k]), k % per
            r, c = tc.position(split, t, i)
            assert tuple(a["position"][k]) == (r, c)
            np.testing.assert_array_equal(a["x"][k, :, :, 0], pics[t][r:r + 32, c:c + 32])
    # the textures differ in their statistics (mean level)
    means = [a["x"][a["label"] == t].mean() for t in range(3)]
    assert len({round(m) for m in means}) == 3

"""labels2scenes: deterministic content (each stored scene is the documented draw and render), the stated shapes
and ranges, label and instance maps consistent with each other and with the rendered image, texture halves
disjoint between the splits, a recorded fingerprint."""
import numpy as np

from gen_jax import data
from gen_jax.data import fingerprints, registry
from gen_jax.data import labels2scenes as l2s


def test_scenes_are_the_documented_draw_and_render(data_dir):
    info = data.dataset_info("labels2scenes", data_dir=data_dir)
    assert info.splits == l2s.NUM_EXAMPLES
    assert registry._embedded_builder("labels2scenes", data_dir).info.full_name in fingerprints.stored()  # pylint: disable=protected-access
    for split in ("train", "test"):
        a = data.load_arrays("labels2scenes", split, data_dir=data_dir)
        n = l2s.NUM_EXAMPLES[split]
        assert a["label"].shape == a["instance"].shape == (n, 32, 32) and a["x"].shape == (n, 32, 32, 3)
        assert a["x"].dtype == np.uint8 and a["label"].min() >= 0 and a["label"].max() <= 4
        np.testing.assert_array_equal(a["index"], np.arange(n))
        for i in range(0, n, 53):
            lab, inst, off = l2s.draw_scene(split, i)
            np.testing.assert_array_equal(a["label"][i], lab)
            np.testing.assert_array_equal(a["instance"][i], inst)
            np.testing.assert_array_equal(a["x"][i], l2s.render(split, lab, inst, off))
            assert 1 <= inst.max() <= 5 and len(off) == inst.max() + 1
            # one class per instance; the background (instance 0) is sky (class 0), and only it
            for k in np.unique(inst):
                assert len(np.unique(lab[inst == k])) == 1
            assert ((inst == 0) == (lab == 0)).all()
            # the image: each pixel is round(255 * tint * (0.25 + 0.75 t)), t in [0, 1], t the class texture
            tex = l2s.textures(split)
            for k, (r, c) in enumerate(off):
                m = inst == k
                if m.any():
                    cls = int(lab[m][0])
                    want = 255 * l2s.TINTS[cls] * (0.25 + 0.75 * tex[cls, r:r + 32, c:c + 32][m][:, None])
                    np.testing.assert_allclose(a["x"][i][m], want, atol=0.5 + 1e-9)
    tr, te = l2s.textures("train"), l2s.textures("test")
    for c in (1, 2, 3):      # the scikit-image textures: disjoint column halves of the same reduced image
        assert not np.allclose(tr[c], te[c])
    np.testing.assert_array_equal(tr[[0, 4]], te[[0, 4]])   # the generated ones are shared
    assert (tr >= 0).all() and (tr <= 1).all()


def test_draws_are_deterministic_and_split_specific():
    a, b = l2s.draw_scene("train", 7), l2s.draw_scene("train", 7)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = l2s.draw_scene("test", 7)
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))

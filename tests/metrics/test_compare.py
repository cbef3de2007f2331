"""`python -m gen_jax.metrics.compare` on small arrays written as the sample mode writes them, and the names of
the `samples` evaluator's metrics with the standard network (a stand-in registered as 'inception')."""
import json

import numpy as np
import pytest

from gen_jax.core import sampling
from gen_jax.metrics import compare as cmp
from gen_jax.metrics import extractors


def levels(rng, n, lo, hi):
    """n 8x8 grey images with values k / 255 in [lo, hi] (exact in a PNG)."""
    return (rng.integers(round(lo * 255), round(hi * 255) + 1, size=(n, 8, 8, 1)) / 255.0).astype(np.float32)


def test_identical_sets_from_png_folder_and_npz(tmp_path):
    x = levels(np.random.default_rng(0), 64, 0.0, 1.0)
    sampling.write(str(tmp_path / "smp"), x, np.arange(64), formats=("npz", "png"))   # samples.npz + 64 PNGs
    np.savez(tmp_path / "ref.npz", images=x)
    out = cmp.compare(str(tmp_path / "smp"), str(tmp_path / "ref.npz"), extractor="pixels", key="images",
                      kid_subsets=3, kid_subset_size=32)
    assert out["num_samples"] == out["num_reference"] == 64
    assert out["frechet_pixels"] == pytest.approx(0.0, abs=1e-6)
    assert out["precision_pixels"] == 1.0 and out["recall_pixels"] == 1.0
    # the PNGs alone (no samples.npz) give the same images
    (tmp_path / "smp" / "samples.npz").unlink()
    np.testing.assert_array_equal(cmp.load_images(str(tmp_path / "smp")), x)


def test_a_shifted_set_has_the_closed_form_frechet_distance(tmp_path, capsys):
    rng = np.random.default_rng(1)
    ref = levels(rng, 100, 0.0, 0.5)
    np.savez(tmp_path / "ref.npz", x=ref)
    np.savez(tmp_path / "smp.npz", x=ref + np.float32(64 / 255))   # same covariance, every mean + 64/255
    assert cmp.main([str(tmp_path / "smp.npz"), str(tmp_path / "ref.npz"), "--extractor=pixels", "--json",
                     "--kid_subsets=2", "--kid_subset_size=50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["frechet_pixels"] == pytest.approx(64 * (64 / 255) ** 2, rel=1e-5)
    assert out["kid_pixels"] > 0 and out["extractor"] == "pixels"


def test_sharded_sample_files_are_put_back_in_sample_order(tmp_path):
    x = levels(np.random.default_rng(2), 10, 0.0, 1.0)
    d = tmp_path / "shards"
    d.mkdir()
    np.savez(d / "samples-00000-of-00002.npz", x=x[0::2], sample_index=np.arange(0, 10, 2))
    np.savez(d / "samples-00001-of-00002.npz", x=x[1::2], sample_index=np.arange(1, 10, 2))
    np.testing.assert_array_equal(cmp.load_images(str(d)), x)


def test_bad_inputs_are_named(tmp_path, capsys, monkeypatch):
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 4, 4, 1)), b=np.zeros(2))
    with pytest.raises(ValueError, match="no array 'x'.*--key"):
        cmp.load_images(str(tmp_path / "two.npz"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cmp.load_images(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png files"):
        cmp.load_images(str(tmp_path / "empty"))
    monkeypatch.delenv("GEN_JAX_INCEPTION_WEIGHTS", raising=False)
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 4, 4, 1), np.float32))
    assert cmp.main([str(tmp_path / "a.npz"), str(tmp_path / "a.npz")]) == 2     # default: inception, no weights
    assert "convert_inception_weights.py" in capsys.readouterr().err
    with pytest.raises(ValueError, match="for the 'inception' extractor only"):
        cmp.compare(str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), extractor="pixels", weights="w.npz")


class StandIn:
    """Flattened pixels with `standard = True` and confident logits of 4 classes in turn (IS = 4)."""
    standard = True

    def __init__(self, weights=None):
        self.weights = weights

    def features(self, images):
        return np.asarray(images, np.float64).reshape(len(images), -1)

    def features_and_logits(self, images):
        return self.features(images), 50.0 * np.eye(4)[np.arange(len(images)) % 4]


def test_standard_names_only_with_the_standard_network(tmp_path, monkeypatch):
    monkeypatch.setitem(extractors._EXTRACTORS, "inception", lambda data_dir=None, weights=None: StandIn(weights))
    x = levels(np.random.default_rng(3), 40, 0.0, 1.0)
    out = cmp.compare(x, x, extractor="inception", weights="given.npz", kid_subsets=2, kid_subset_size=20)
    assert {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall"} <= set(out)
    assert not any(k.endswith("_inception") or k.startswith("frechet") for k in out)
    assert out["fid"] == pytest.approx(0.0, abs=1e-9) and out["is"] == pytest.approx(4.0)

    # the engine's samples evaluator: the same names, the weights setting passed through
    from gen_jax.core import loop
    from tests.core.test_contracts import known_config

    c = known_config("digits", {"samples": dict(kind="samples", num_samples=40, batch_size=40, extractor="inception",
                                                weights="given.npz", kid_subsets=2, kid_subset_size=20)},
                     reference=("digits", "test"))
    res = loop.train_and_evaluate(c, str(tmp_path / "w"))
    assert res["samples/is"] == pytest.approx(4.0) and "samples/fid" in res and "samples/kid" in res
    assert not any("frechet" in k for k in res)

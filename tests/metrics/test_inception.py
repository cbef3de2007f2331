"""The FID Inception-v3 in Flax against an independent PyTorch implementation (golden file), and its resize.

tests/metrics/data/inception_golden.npz is written by `experiments/make_inception_golden.py` (plain torch, float64,
pytorch-fid's FID modules and preprocessing) on random weights drawn by NumPy from a seed; here the same
weights are regenerated from the seed and pass through the converter of real weights (`convert_state_dict`
-> .npz -> `load_variables`), so the converter's name and layout mapping is tested too.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.make_inception_golden import INPUT_ROWS, RESIZE_CASES, random_state_dict, resize_case_input
from gen_jax.metrics import inception as inc

GOLDEN = os.path.join(os.path.dirname(__file__), "data", "inception_golden.npz")


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def state_dict(golden):
    """The golden file's random weights, regenerated from its seed in the order of its state_dict spec."""
    spec = [(n, tuple(int(s) for s in shp.split(",") if s))
            for n, shp in zip(golden["spec_names"], golden["spec_shapes"])]
    return random_state_dict(spec, int(golden["seed"]))


@pytest.fixture(scope="module")
def weights_file(state_dict, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("inception") / "random_inception.npz")
    np.savez(path, **inc.convert_state_dict(state_dict))
    return path


@pytest.fixture(scope="module")
def apply_fn():
    """The network with its intermediate activations, compiled once for the module (batches of 2)."""
    return jax.jit(lambda v, x: inc.FIDInceptionV3().apply(v, x, intermediates=True))


@pytest.fixture(scope="module")
def flax_out(golden, weights_file, apply_fn):
    out = apply_fn(inc.load_variables(weights_file), jnp.asarray(golden["inputs"]))
    return {k: np.asarray(v) for k, v in out.items()}


def rel_err(a, ref):
    return float(np.max(np.abs(a - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("name", ["pool3", "logits"])
def test_outputs_match_the_pytorch_reference(golden, flax_out, name):
    ref, ours = golden[name], flax_out[name]
    assert ours.shape == ref.shape == (2, {"pool3": 2048, "logits": 1008}[name])
    assert rel_err(ours, ref) < 1e-4
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.max(np.abs(ref)))


def test_inception_score_logits_are_the_fc_without_its_bias(golden, flax_out, state_dict):
    np.testing.assert_allclose(flax_out["logits_unbiased"] + state_dict["fc.bias"], flax_out["logits"], atol=1e-6)
    ref = golden["logits"] - state_dict["fc.bias"]
    assert rel_err(flax_out["logits_unbiased"], ref) < 1e-4


def test_intermediate_activations_match(golden, flax_out):
    np.testing.assert_allclose(flax_out["input"][:, INPUT_ROWS][:, :, INPUT_ROWS], golden["input_sub"], atol=2e-6)
    for name, stride in (("block0", 2), ("block1", 2), ("block2", 1)):
        ours = flax_out[name][:, ::stride, ::stride][..., golden[f"{name}_channels"]]
        assert ours.shape == golden[f"{name}_sub"].shape, name
        assert rel_err(ours, golden[f"{name}_sub"]) < 1e-4, name
    assert flax_out["block0"].shape[1:] == (73, 73, 64) and flax_out["block1"].shape[1:] == (35, 35, 192)
    assert flax_out["block2"].shape[1:] == (17, 17, 768) and flax_out["block3"].shape[1:] == (8, 8, 2048)


def test_extractor_batches_and_pads(golden, weights_file, apply_fn, flax_out):
    ext = inc.InceptionExtractor.from_weights(weights_file, batch_size=2)
    ext._apply = apply_fn                     # the same computation, already compiled for batches of 2
    x = golden["inputs"][[0, 1, 0]]           # one full batch and one padded batch
    feats, logits = ext.features_and_logits(x)
    assert feats.shape == (3, 2048) and logits.shape == (3, 1008)
    assert rel_err(feats, golden["pool3"][[0, 1, 0]]) < 1e-4
    np.testing.assert_array_equal(logits, flax_out["logits_unbiased"][[0, 1, 0]])   # the IS logits
    with pytest.raises(ValueError, match="1 or 3"):
        ext.features(np.zeros((2, 8, 8, 4), np.float32))


def test_grey_images_are_repeated_to_three_channels(golden):
    grey = golden["inputs"][..., :1]
    np.testing.assert_array_equal(np.asarray(inc.preprocess(grey)), np.asarray(inc.preprocess(np.repeat(grey, 3, -1))))


def test_bilinear_matrix_hand_values():
    # 2 -> 4: source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (x1 clamped to the last pixel)
    np.testing.assert_allclose(inc.bilinear_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    # 4 -> 2: source coordinates 0.5 and 2.5, no antialiasing (two taps each)
    np.testing.assert_allclose(inc.bilinear_matrix(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    np.testing.assert_allclose(inc.bilinear_matrix(5, 5), np.eye(5))
    assert np.allclose(inc.bilinear_matrix(28, 299).sum(1), 1.0)


@pytest.mark.parametrize("k", range(len(RESIZE_CASES)))
def test_resize_matches_torch_interpolate(golden, k):
    src, dst = RESIZE_CASES[k]
    ours = np.asarray(inc.resize_bilinear(jnp.asarray(resize_case_input(k, src)), dst))
    if dst == (299, 299):
        ours = ours[:, INPUT_ROWS][:, :, INPUT_ROWS]
    np.testing.assert_allclose(ours, golden[f"resize{k}_out"], atol=2e-6)


@pytest.mark.parametrize("src,dst", [((5, 7), (11, 23)), ((28, 28), (299, 299)), ((40, 37), (13, 17))])
def test_resize_equals_jax_image_resize_without_antialiasing(src, dst):
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(1,) + src + (2,)), jnp.float32)
    ref = jax.image.resize(x, (1,) + dst + (2,), "linear", antialias=False)
    np.testing.assert_allclose(np.asarray(inc.resize_bilinear(x, dst)), np.asarray(ref), atol=2e-6)


def test_preprocess_maps_unit_range_to_symmetric_range():
    x = np.full((1, 10, 12, 1), 0.25, np.float32)
    y = np.asarray(inc.preprocess(x))
    assert y.shape == (1, 299, 299, 3)
    np.testing.assert_allclose(y, -0.5, atol=1e-6)
    with pytest.raises(ValueError, match="1 or 3"):
        inc.preprocess(np.zeros((1, 8, 8, 2)))


def test_missing_weights_say_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.delenv(inc.WEIGHTS_ENV, raising=False)
    with pytest.raises(ValueError, match="convert_inception_weights.py"):
        inc.resolve_weights(None)
    missing = str(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz.*pt_inception-2015-12-05"):
        inc.load_variables(missing)
    monkeypatch.setenv(inc.WEIGHTS_ENV, missing)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        inc.resolve_weights(None)


def test_converter_maps_names_and_layouts(state_dict):
    sd = state_dict
    flat = inc.convert_state_dict(sd)
    assert set(flat) == set(inc.variable_shapes())
    assert flat["params/Mixed_5b/branch1x1/conv/kernel"].shape == (1, 1, 192, 64)
    np.testing.assert_array_equal(flat["params/fc/kernel"], sd["fc.weight"].T)
    np.testing.assert_array_equal(flat["params/Mixed_7c/branch3x3_2a/conv/kernel"][0, 2, 5, 7],
                                  sd["Mixed_7c.branch3x3_2a.conv.weight"][7, 5, 0, 2])
    np.testing.assert_array_equal(flat["batch_stats/Mixed_6e/branch_pool/bn/var"],
                                  sd["Mixed_6e.branch_pool.bn.running_var"])


def test_converter_and_loader_reject_other_weights(state_dict, tmp_path):
    with pytest.raises(ValueError, match="1000 and other weights"):
        inc.convert_state_dict(dict(state_dict, **{"fc.weight": np.zeros((1000, 2048), np.float32)}))
    with pytest.raises(ValueError, match="unexpected entries.*AuxLogits.fc.weight"):
        inc.convert_state_dict(dict(state_dict, **{"AuxLogits.fc.weight": np.zeros((1008, 768), np.float32)}))
    bad = dict(state_dict)
    del bad["Mixed_6e.branch_pool.conv.weight"]
    with pytest.raises(ValueError, match="93 convolutions"):
        inc.convert_state_dict(bad)
    flat = inc.convert_state_dict(state_dict)
    del flat["batch_stats/Mixed_6e/branch_pool/bn/var"]
    flat["params/Mixed_5b/branch1x1/conv/kernel"] = np.zeros((1, 1, 192, 65), np.float32)
    path = str(tmp_path / "bad.npz")
    np.savez(path, **flat)
    with pytest.raises(ValueError, match="missing.*Mixed_6e.*wrong shapes.*Mixed_5b"):
        inc.load_variables(path)

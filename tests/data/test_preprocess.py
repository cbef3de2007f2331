"""preprocess: the pixel conventions, inside jit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.data import preprocess as pp

LEVELS = jnp.arange(17)


def test_scale_and_center():
    np.testing.assert_allclose(pp.scale01(LEVELS, 17), np.arange(17) / 16.0)
    np.testing.assert_allclose(pp.center_pm1(LEVELS, 17), np.arange(17) / 8.0 - 1.0)
    np.testing.assert_allclose(pp.to_pm1(jnp.array([0.0, 0.5, 1.0])), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(pp.from_pm1(pp.to_pm1(jnp.array([0.25]))), [0.25])
    assert pp.scale01(jnp.array([255], jnp.uint8), 256).dtype == jnp.float32
    assert float(pp.scale01(jnp.array([255], jnp.uint8), 256)[0]) == 1.0


def test_binarize_static_thresholds():
    np.testing.assert_array_equal(pp.binarize_static(LEVELS, 17), (np.arange(17) >= 8).astype(np.float32))
    x = jnp.arange(256)
    np.testing.assert_array_equal(pp.binarize_static(x, 256), (np.arange(256) >= 128).astype(np.float32))
    np.testing.assert_array_equal(pp.binarize_static(jnp.array([0, 1]), 2), [0.0, 1.0])


def test_binarize_dynamic_mean_matches_intensity():
    x01 = jnp.linspace(0.0, 1.0, 11)
    n = 20_000
    draws = jax.jit(pp.binarize_dynamic)(jax.random.key(0), jnp.broadcast_to(x01, (n, 11)))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    se = np.sqrt(np.asarray(x01) * (1 - np.asarray(x01)) / n)
    np.testing.assert_array_less(np.abs(draws.mean(0) - x01), 5 * se + 1e-7)
    # a fresh key gives a fresh binarization
    a = pp.binarize_dynamic(jax.random.key(1), jnp.full((1000,), 0.5))
    b = pp.binarize_dynamic(jax.random.key(2), jnp.full((1000,), 0.5))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("k", [2, 17, 256])
def test_dequantize_stays_in_its_cell_and_is_uniform(k):
    x = jnp.tile(jnp.arange(k), 2000)
    y = jax.jit(pp.dequantize, static_argnums=2)(jax.random.key(3), x, k)
    assert y.dtype == jnp.float32
    lo, hi = np.asarray(x) / k, (np.asarray(x) + 1.0) / k
    assert np.all(np.asarray(y) >= lo) and np.all(np.asarray(y) < hi)
    np.testing.assert_array_equal(pp.undequantize(y, k), x)
    u = np.asarray(y) * k - np.asarray(x)  # the uniform noise
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


def test_dequantize_top_of_cell_edge_case():
    """u just below 1 must not round (x + u) / K up to the next cell in float32."""
    x = jnp.full((4,), 16.0)
    y = (x + jnp.float32(1 - 2**-24)) / 17
    assert float(y[0]) * 17 >= 17.0 - 1e-6  # the naive formula would leave the cell
    out = pp.dequantize(jax.random.key(0), x, 17)
    assert np.all(np.floor(np.asarray(out) * 17) == 16)


def test_quantize_inverts_scale01():
    for k in (2, 17, 256):
        x = jnp.arange(k)
        np.testing.assert_array_equal(jax.jit(lambda v: pp.quantize(pp.scale01(v, k), k))(x), x)
    np.testing.assert_array_equal(pp.quantize(jnp.array([-0.3, 0.02, 0.49, 0.51, 1.7]), 2), [0, 0, 0, 1, 1])
    assert pp.quantize(jnp.array([0.5]), 17).dtype == jnp.int32


def test_bad_levels():
    with pytest.raises(ValueError, match="num_levels"):
        pp.scale01(LEVELS, None)
    with pytest.raises(ValueError, match="num_levels"):
        pp.binarize_static(LEVELS, 1)


# ----------------------------------------------------------------------------------- paired augmentation


def _pair_batch(b=16, h=12, w=10):
    """A is a grey coordinate map, B its colour copy plus 1: any crop/flip of A is recoverable from B."""
    a = (jnp.arange(h * w, dtype=jnp.int32).reshape(1, h, w, 1) + 100 * jnp.arange(b).reshape(b, 1, 1, 1))
    return {"A": a, "B": jnp.repeat(a, 3, axis=-1) + 1}


_jitter = jax.jit(pp.paired_jitter, static_argnums=2, static_argnames=("resize", "flip"))


def test_paired_jitter_applies_one_draw_per_example_to_every_image():
    images = _pair_batch()
    out = _jitter(jax.random.key(0), images, (5, 4))
    assert out["A"].shape == (16, 5, 4, 1) and out["B"].shape == (16, 5, 4, 3)
    np.testing.assert_array_equal(out["B"], np.repeat(np.asarray(out["A"]), 3, axis=-1) + 1)  # same crop and flip
    # each output is a crop (maybe mirrored) of its own example, and the draws differ across examples
    a, full = np.asarray(out["A"][..., 0]), np.asarray(images["A"][..., 0])
    draws = set()
    for i in range(16):
        top_left = int(a[i, 0, 0] if a[i, 0, 0] < a[i, 0, -1] else a[i, 0, -1]) - 100 * i
        y, x = divmod(top_left, 10)
        crop = full[i, y:y + 5, x:x + 4]
        flipped = a[i, 0, 0] > a[i, 0, -1]
        np.testing.assert_array_equal(a[i], crop[:, ::-1] if flipped else crop)
        draws.add((y, x, bool(flipped)))
    assert len(draws) > 8
    # deterministic for a key, another key gives another batch
    np.testing.assert_array_equal(_jitter(jax.random.key(0), images, (5, 4))["A"], out["A"])
    assert not np.array_equal(_jitter(jax.random.key(1), images, (5, 4))["A"], out["A"])


def test_crop_offsets_cover_the_range_and_flip_is_fair():
    n = 1000
    marker = _pair_batch(n, 6, 6)
    crops = _jitter(jax.random.key(2), marker, (4, 4), flip=False)["A"][:, 0, 0, 0] - 100 * jnp.arange(n)
    oy, ox = np.divmod(np.asarray(crops), 6)
    assert set(oy) == set(ox) == {0, 1, 2}
    flips = jax.jit(pp.random_flip_left_right)(jax.random.key(3), {"A": marker["A"][:, :1, :2]})["A"]
    share = float(jnp.mean(flips[:, 0, 0, 0] > flips[:, 0, 1, 0]))
    assert abs(share - 0.5) < 5 * 0.5 / np.sqrt(n)


def test_resize_then_crop_as_pix2pix_and_integer_levels_stay_integers():
    images = {"A": jnp.full((2, 16, 16, 1), 200, jnp.uint8), "B": jnp.ones((2, 16, 16, 3), jnp.float32)}
    out = _jitter(jax.random.key(4), images, (16, 16), resize=(18, 18))
    assert out["A"].dtype == jnp.uint8 and out["A"].shape == (2, 16, 16, 1)
    assert np.all(np.asarray(out["A"]) == 200) and np.allclose(out["B"], 1.0)


def test_paired_augmentation_errors():
    with pytest.raises(ValueError, match="one batch size, height and width"):
        pp.random_crop(jax.random.key(0), {"A": jnp.zeros((2, 8, 8, 1)), "B": jnp.zeros((2, 8, 9, 1))}, (4, 4))
    with pytest.raises(ValueError, match="a 9x4 crop of 8x8 images"):
        pp.random_crop(jax.random.key(0), {"A": jnp.zeros((2, 8, 8, 1))}, (9, 4))

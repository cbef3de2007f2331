"""PSNR / SSIM / L1 against scikit-image (the oracle), and the values they must take by construction."""
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gen_jax.metrics import image


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=shape).astype(np.float32)
    y = np.clip(x + 0.1 * rng.normal(size=shape), 0, 1).astype(np.float32)
    return x, y


@pytest.mark.parametrize("shape", [(2, 32, 24, 3), (3, 16, 16, 1)])
def test_psnr_and_ssim_equal_scikit_image(shape):
    x, y = pair(shape)
    p = np.asarray(image.psnr(x, y))
    s_gauss = np.asarray(image.ssim(x, y))
    s_unif = np.asarray(image.ssim(x, y, gaussian=False, win_size=7))
    for i in range(shape[0]):
        np.testing.assert_allclose(p[i], peak_signal_noise_ratio(x[i], y[i], data_range=1.0), rtol=1e-5)
        ref_g = structural_similarity(x[i], y[i], data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                      sigma=1.5, use_sample_covariance=False)
        ref_u = structural_similarity(x[i], y[i], data_range=1.0, channel_axis=-1, win_size=7)
        np.testing.assert_allclose(s_gauss[i], ref_g, atol=2e-5)
        np.testing.assert_allclose(s_unif[i], ref_u, atol=2e-5)


def test_known_values():
    x, y = pair((2, 16, 16, 3))
    assert np.all(np.asarray(image.ssim(x, x)) > 1 - 1e-6)
    assert np.all(np.isinf(np.asarray(image.psnr(x, x))))
    # a constant offset d: MSE = d^2, PSNR = -20 log10 d, L1 = d
    d = 0.125
    z = np.full((1, 8, 8, 1), 0.5, np.float32)
    np.testing.assert_allclose(np.asarray(image.psnr(z, z + d)), -20 * np.log10(d), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(image.l1(z, z + d)), d, rtol=1e-6)
    # luma of white and black
    np.testing.assert_allclose(np.asarray(image.rgb_to_y(np.ones((1, 1, 3)))), 235 / 255, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(image.rgb_to_y(np.zeros((1, 1, 3)))), 16 / 255, rtol=1e-5)


def test_small_images_use_a_window_that_fits():
    x, y = pair((2, 8, 8, 1))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        image.ssim(x, y)
    m = image.reconstruction_metrics(x, y)
    ref = structural_similarity(x[0], y[0], data_range=1.0, channel_axis=-1, win_size=7)
    np.testing.assert_allclose(np.asarray(m["ssim"])[0], ref, atol=2e-5)


def test_library_classifier_learns_digits_and_serves_as_an_extractor(monkeypatch):
    from gen_jax.metrics import classifier
    from gen_jax.metrics.classifier import ImageClassifier
    from gen_jax.metrics.extractors import get_extractor

    clf = ImageClassifier.train("digits", arch="mlp", steps=300, batch_size=256)
    assert clf.accuracy("digits", "test") > 0.9
    with pytest.raises(ValueError, match=r"expects images \[N, 8, 8, 1\]"):
        clf.predict(np.zeros((2, 28, 28, 1)))
    # `classifier:<dataset>` serves trained_classifier(dataset): this one, not a second 1,500-step CNN training
    asked = []
    monkeypatch.setattr(classifier, "trained_classifier", lambda name, data_dir=None: asked.append(name) or clf)
    ext = get_extractor("classifier:digits")
    assert asked == ["digits"] and ext is clf
    assert np.asarray(ext.features(np.zeros((3, 8, 8, 1), np.float32))).shape == (3, 128)

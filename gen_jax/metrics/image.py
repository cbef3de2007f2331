"""Per-example image-reconstruction metrics in pure jax.numpy: PSNR, SSIM, L1, and the Y channel.

All take images [B, H, W, C] (or [H, W, C]) with values in [0, data_range] and return one value per example.

* PSNR = 10 log10(data_range^2 / MSE), MSE over all pixels and channels of an example (scikit-image's
  `peak_signal_noise_ratio`). Identical images give +inf.
* SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility to structural
  similarity"): the mean over the valid window positions and the channels of

      ((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
      C1 = (0.01 L)^2, C2 = (0.03 L)^2,

  with local statistics under an 11x11 Gaussian window of sigma 1.5 (the paper's setting, and scikit-image's
  `structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`), or, with
  `gaussian=False`, a uniform `win_size` window with sample covariances (scikit-image's default). Images
  smaller than the window (8x8 digits) need `gaussian=False, win_size=7` or smaller. The values equal
  scikit-image's, which the tests use as the oracle.
* `rgb_to_y`: ITU-R BT.601 luma on [0, 1] data, Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255, the
  channel on which SRGAN (Ledig et al. 2017) and the super-resolution literature report PSNR / SSIM.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp


def _batched(x):
    x = jnp.asarray(x, jnp.float32)
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        raise ValueError(f"expected images [B, H, W, C] or [H, W, C], got shape {x.shape}")
    return x, False


def _check_pair(x, y, name):
    if x.shape != y.shape:
        raise ValueError(f"{name}: the two image batches differ in shape, {x.shape} vs {y.shape}")


def mse(x, y):
    """Mean squared error per example."""
    (x, single), (y, _) = _batched(x), _batched(y)
    _check_pair(x, y, "mse")
    out = jnp.mean((x - y) ** 2, axis=(1, 2, 3))
    return out[0] if single else out


def l1(x, y):
    """Mean absolute error per example."""
    (x, single), (y, _) = _batched(x), _batched(y)
    _check_pair(x, y, "l1")
    out = jnp.mean(jnp.abs(x - y), axis=(1, 2, 3))
    return out[0] if single else out


def psnr(x, y, data_range: float = 1.0):
    """Peak signal-to-noise ratio in dB per example: 10 log10(data_range^2 / MSE)."""
    return 10.0 * jnp.log10(data_range ** 2 / mse(x, y))


def _gaussian_window(sigma: float, truncate: float = 3.5):
    radius = int(truncate * sigma + 0.5)
    t = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    g = jnp.exp(-0.5 * (t / sigma) ** 2)
    return g / jnp.sum(g)


def _filter_valid(x, w1d):
    """Separable 'valid' filtering of [B, H, W, C] with the 1-D window w1d along H and W, per channel."""
    k = w1d.shape[0]
    b, h, w, c = x.shape
    z = jnp.transpose(x, (0, 3, 1, 2)).reshape(b * c, 1, h, w)
    kh = w1d.reshape(1, 1, k, 1)
    kw = w1d.reshape(1, 1, 1, k)
    dn = ("NCHW", "OIHW", "NCHW")
    z = jax.lax.conv_general_dilated(z, kh, (1, 1), "VALID", dimension_numbers=dn,
                                     precision=jax.lax.Precision.HIGHEST)
    z = jax.lax.conv_general_dilated(z, kw, (1, 1), "VALID", dimension_numbers=dn,
                                     precision=jax.lax.Precision.HIGHEST)
    return z.reshape(b, c, h - k + 1, w - k + 1)


def ssim(x, y, data_range: float = 1.0, gaussian: bool = True, sigma: float = 1.5, win_size: int = 7,
         k1: float = 0.01, k2: float = 0.03):
    """Structural similarity per example (see the module docstring), averaged over channels and positions."""
    (x, single), (y, _) = _batched(x), _batched(y)
    _check_pair(x, y, "ssim")
    if gaussian:
        w1d = _gaussian_window(sigma)
        cov_norm = 1.0
    else:
        w1d = jnp.full((win_size,), 1.0 / win_size, jnp.float32)
        n = win_size ** 2
        cov_norm = n / (n - 1.0)  # sample covariances, as scikit-image does for the uniform window
    k = w1d.shape[0]
    if x.shape[1] < k or x.shape[2] < k:
        raise ValueError(f"ssim: images of {x.shape[1]}x{x.shape[2]} are smaller than the {k}x{k} window; use "
                         f"gaussian=False with a smaller odd win_size")
    f = lambda a: _filter_valid(a, w1d)  # noqa: E731
    ux, uy = f(x), f(y)
    vx = cov_norm * (f(x * x) - ux * ux)
    vy = cov_norm * (f(y * y) - uy * uy)
    vxy = cov_norm * (f(x * y) - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    out = jnp.mean(s, axis=(1, 2, 3))
    return out[0] if single else out


def rgb_to_y(x):
    """BT.601 luma of RGB images in [0, 1]: [..., 3] -> [..., 1] in [16/255, 235/255]."""
    x = jnp.asarray(x, jnp.float32)
    if x.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects 3 channels, got shape {x.shape}")
    w = jnp.asarray([65.481, 128.553, 24.966], jnp.float32) / 255.0
    return (16.0 / 255.0 + jnp.sum(x * w, axis=-1, keepdims=True))


def reconstruction_metrics(output, target, data_range: float = 1.0, ssim_kwargs=None):
    """{'psnr', 'ssim', 'l1', 'mse'} per example. SSIM uses the Gaussian window when the images are at least
    11x11, else a uniform window as large as fits (odd, at most 7)."""
    output, target = jnp.asarray(output, jnp.float32), jnp.asarray(target, jnp.float32)
    kw = dict(ssim_kwargs or {})
    if not kw:
        side = min(output.shape[-3], output.shape[-2])
        if side < 11:
            kw = dict(gaussian=False, win_size=min(7, side if side % 2 else side - 1))
    return {"psnr": psnr(output, target, data_range), "ssim": ssim(output, target, data_range, **kw),
            "l1": l1(output, target), "mse": mse(output, target)}

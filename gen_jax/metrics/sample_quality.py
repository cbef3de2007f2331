"""Sample-quality metrics on features of any extractor: the Frechet distance and the kernel distance (KID).

* Frechet distance between Gaussian fits N(mu_1, C_1), N(mu_2, C_2) of two feature sets, the formula of FID
  (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule ..."; Dowson & Landau 1982):

      d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 (C_1 C_2)^{1/2}).

  The trace of the matrix square root is computed stably as sum_i sqrt(lambda_i), lambda_i the eigenvalues of
  the symmetric PSD matrix C_1^{1/2} C_2 C_1^{1/2} (similar to C_1 C_2), clipped at 0.
* Kernel distance (KID; Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimator of the squared
  MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3,

      MMD_u^2 = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j),

  averaged over random subsets (the paper: 100 subsets of 1,000), reported with the std over subsets.

"Inception" is only a name here: any feature extractor works (`evaluate_samples` takes a callable mapping
images in [0, 1] to [N, F] features). For digits the library trains its own classifier
(`gen_jax.metrics.digits_classifier`); a loader for standard Inception weights can be plugged in the same way.
Computations are in float64 on the host (NumPy), where covariance products of large feature sets need it.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np


def _check_features(name, f):
    f = np.asarray(f)
    if f.ndim != 2:
        raise ValueError(f"{name}: features must be [N, F], got shape {f.shape}")
    if f.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 feature vectors, got {f.shape[0]}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name}: features contain {int(np.sum(~np.isfinite(f)))} NaN/inf values")
    return f.astype(np.float64)


def gaussian_fit(features):
    """(mean [F], unbiased covariance [F, F]) of features [N, F], float64."""
    f = _check_features("gaussian_fit", features)
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(c):
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2):
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2}) of two Gaussians (the FID formula), float64 >= 0."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mu1.shape != mu2.shape or mu1.ndim != 1 or cov1.shape != (mu1.size,) * 2 or cov2.shape != cov1.shape:
        raise ValueError(f"frechet_distance: expected means [F] and covariances [F, F] of one F, got "
                         f"{mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    s1 = _psd_sqrt(cov1)
    lam = np.linalg.eigvalsh(s1 @ ((cov2 + cov2.T) / 2) @ s1)
    tr_sqrt = np.sum(np.sqrt(np.clip(lam, 0, None)))
    d2 = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt
    return float(max(d2, 0.0))


def frechet_distance_from_features(f1, f2):
    """Frechet distance between the Gaussian fits of two feature sets [N1, F] and [N2, F]."""
    return frechet_distance(*gaussian_fit(f1), *gaussian_fit(f2))


def polynomial_kernel(x, y, degree: int = 3, gamma: Optional[float] = None, coef0: float = 1.0):
    """(gamma x.y + coef0)^degree with gamma = 1 / F by default (the KID kernel)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * x @ y.T + coef0) ** degree


def mmd2_unbiased(x, y, kernel: Callable = polynomial_kernel):
    """The unbiased estimator MMD_u^2 (Gretton et al. 2012, Eq. 3) of two samples [m, F], [n, F]; float64."""
    x, y = _check_features("mmd2_unbiased", x), _check_features("mmd2_unbiased", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd2_unbiased: feature sizes differ, {x.shape[1]} vs {y.shape[1]}")
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kernel_distance(f1, f2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """KID: mean and std of MMD_u^2 (cubic kernel) over random subsets drawn without replacement.

    Returns {'kid': mean, 'kid_std': std over subsets}. The subset size is capped by the smaller set.
    """
    f1, f2 = _check_features("kernel_distance", f1), _check_features("kernel_distance", f2)
    size = min(subset_size, f1.shape[0], f2.shape[0])
    rng = np.random.default_rng(seed)
    vals = [mmd2_unbiased(f1[rng.choice(f1.shape[0], size, replace=False)],
                          f2[rng.choice(f2.shape[0], size, replace=False)]) for _ in range(num_subsets)]
    return {"kid": float(np.mean(vals)), "kid_std": float(np.std(vals))}


def evaluate_samples(extractor: Callable, real_images, fake_images, batch_size: int = 500, **kid_kwargs):
    """Frechet distance and KID of `fake_images` against `real_images` in the feature space of `extractor`.

    Args:
      extractor: images [n, H, W, C] in [0, 1] -> features [n, F] (any callable; e.g.
        `gen_jax.metrics.digits_classifier.DigitsClassifier.features`).
      real_images, fake_images: [N, H, W, C] in [0, 1].
    Returns:
      {'frechet_distance', 'kid', 'kid_std'}.
    """
    def feats(images):
        images = np.asarray(images, np.float32)
        return np.concatenate([np.asarray(extractor(images[i:i + batch_size]))
                               for i in range(0, len(images), batch_size)])

    fr, ff = feats(real_images), feats(fake_images)
    out = {"frechet_distance": frechet_distance_from_features(fr, ff)}
    out.update(kernel_distance(fr, ff, **kid_kwargs))
    return out

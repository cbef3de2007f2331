"""Sample metrics on the features of an extractor: FID, KID, Inception Score, precision and recall, by name.

* FID (Heusel et al. 2017) and KID (Binkowski et al. 2018): `gen_jax.metrics.sample_quality`.
* Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs"):
  IS = exp(E_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over the samples, computed as the reference code
  does (and torch-fidelity, pytorch-gan-metrics): on `splits` = 10 consecutive equal parts of the samples,
  reported as the mean and the std over the parts; with the FID Inception, the softmax over all 1008 classes of
  the bias-free logits pool3 W, as the reference code rebuilds them (`InceptionExtractor.logits`).
* Improved precision and recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models"): each feature vector of a set is the centre of a ball whose radius is the
  distance to its k-th nearest neighbour in that set (k = 3, the paper's choice); precision = the fraction of
  generated vectors inside at least one ball of the real set, recall = the fraction of real vectors inside at
  least one ball of the generated set (distances Euclidean, float64, in row blocks).

`sample_metrics(name, extractor, reference, samples)` computes them for images in [0, 1]. Names: with the
standard network (an extractor with `standard = True`, only `gen_jax.metrics.inception.InceptionExtractor`)
the papers' names `fid`, `kid`, `kid_std`, `is`, `is_std`, `precision`, `recall`; with any other extractor the
names carry the extractor's (`frechet_<name>`, `kid_<name>`, `kid_std_<name>`, `precision_<name>`,
`recall_<name>`), so that a figure in a library-trained feature space is never read as a paper's FID.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from gen_jax.metrics import sample_quality as sq


def _log_softmax(logits):
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(logits, splits: int = 10) -> Dict[str, float]:
    """{'is', 'is_std'}: exp(mean_x KL(p(y|x) || p(y))) on each of `splits` consecutive parts (p(y) the mean
    over the part); the mean and std over the parts. `logits` [N, C] (softmax taken here), N >= splits."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"inception_score: expected logits [N, C >= 2], got shape {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("inception_score: logits contain NaN/inf")
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"inception_score: need at least splits={splits} samples (>= 1 each), got {n}")
    logp = _log_softmax(logits)
    scores = []
    for i in range(splits):
        part = logp[i * n // splits:(i + 1) * n // splits]
        p = np.exp(part)
        log_marginal = np.log(p.mean(axis=0))
        kl = np.sum(p * (part - log_marginal), axis=1)
        scores.append(np.exp(kl.mean()))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}


def _sq_dists(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def knn_radii(features, k: int = 3, block: int = 1024) -> np.ndarray:
    """Distance of each row of `features` [N, F] to its k-th nearest neighbour among the other rows."""
    f = sq._check_features("knn_radii", features)
    if not 1 <= k < f.shape[0]:
        raise ValueError(f"knn_radii: need 1 <= k < N, got k={k}, N={f.shape[0]}")
    out = np.empty(f.shape[0])
    for s in range(0, f.shape[0], block):
        d = _sq_dists(f[s:s + block], f)
        # the row's own distance 0 is the smallest: the k-th neighbour is the (k+1)-th smallest
        out[s:s + block] = np.partition(d, k, axis=1)[:, k]
    return np.sqrt(out)


def _covered(queries, centres, radii, block: int = 1024) -> np.ndarray:
    """[Nq] bool: is query i inside at least one ball (centres[j], radii[j]) (boundary included)."""
    r2 = radii ** 2
    out = np.empty(queries.shape[0], bool)
    for s in range(0, queries.shape[0], block):
        out[s:s + block] = np.any(_sq_dists(queries[s:s + block], centres) <= r2[None, :], axis=1)
    return out


def precision_recall(real, fake, k: int = 3) -> Dict[str, float]:
    """{'precision', 'recall'} of Kynkaanniemi et al. 2019 with k-NN balls (k = 3) on features [N, F]."""
    real = sq._check_features("precision_recall", real)
    fake = sq._check_features("precision_recall", fake)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"precision_recall: feature sizes differ, {real.shape[1]} vs {fake.shape[1]}")
    precision = _covered(fake, real, knn_radii(real, k)).mean()
    recall = _covered(real, fake, knn_radii(fake, k)).mean()
    return {"precision": float(precision), "recall": float(recall)}


def is_standard(extractor) -> bool:
    """True only for the standard FID Inception network (metrics under the papers' names)."""
    return bool(getattr(extractor, "standard", False))


def sample_metrics(name: str, extractor, reference, samples, kid_subsets: int = 100, kid_subset_size: int = 1000,
                   seed: int = 0, with_precision_recall: bool = False, k: int = 3, is_splits: int = 10,
                   batch_size: int = 500) -> Dict[str, float]:
    """Sample metrics of images `samples` against `reference` ([N, H, W, C] in [0, 1]) in the features of
    `extractor` called `name` (see the module docstring for the names). IS only with the standard network
    (it needs the 1008 ImageNet-class logits)."""
    from gen_jax.metrics.extractors import batched_features

    standard = is_standard(extractor)
    fr = np.asarray(extractor.features(reference) if standard else batched_features(extractor, reference, batch_size))
    logits: Optional[np.ndarray] = None
    if standard:
        ff, logits = extractor.features_and_logits(samples)
    else:
        ff = batched_features(extractor, samples, batch_size)
    kid = sq.kernel_distance(fr, ff, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    out = {"frechet": sq.frechet_distance_from_features(fr, ff), "kid": kid["kid"], "kid_std": kid["kid_std"]}
    if with_precision_recall:
        out.update(precision_recall(fr, ff, k=k))
    if not standard:
        return {(f"frechet_{name}" if key == "frechet" else f"{key}_{name}"): v for key, v in out.items()}
    out["fid"] = out.pop("frechet")
    out.update(inception_score(logits, splits=min(is_splits, len(logits))))
    return out

"""Classical density models on `digits` under the likelihood protocol of `gen_jax.metrics.likelihood`.

Command:
    python -m experiments.classical_digits [--outdir=/tmp/gen_jax/classical_digits] [--seed=0]

Fits, on the 1,437 training images, and reports on the 360 test images:

* the class-conditional Gaussian ("Bayesian classifier", gen_jax.classical.bayes): its density is the mixture
  p(x) = sum_y p(y) p(x | y); the ridge reg of Sigma_y = (1 - reg) S_y + reg I is chosen on a held-out fifth of
  the training set, then the model is refitted on all of it; also its Bayes-rule test accuracy;
* a full-covariance GMM fitted by EM (gen_jax.classical.gmm), k chosen by BIC on the training set;
* the variational Bayesian GMM with a Dirichlet-process prior (gen_jax.classical.vigmm), 20 components, scored
  with its Student-t posterior predictive.

Protocol: every model is a continuous density on [0, 1]^64, fitted to uniformly dequantized training images
y = (x + u) / 17, u ~ U[0, 1)^64 (one draw). The test figure is E_u[-log p((x + u) / 17)] + 64 log 17,
averaged over `--test_draws` draws of u, an UPPER BOUND on the discrete NLL -log P(x) in nats per image
(Theis et al. 2016); bits/dim = nats / (64 ln 2). The fits run in float64 (`jax.enable_x64`): 64-D
covariances with near-constant pixels need it for stable Cholesky factors.

Expected (seed 0, measured on the shared 2-core CPU, about 1.5 minutes): class-conditional Gaussian <= 120.7
nats/image (2.721 bits/dim, reg=0.001), Bayes-rule accuracy 0.975; GMM k=2 by BIC <= 127.0 (2.863); VI-GMM
<= 133.5 (3.008) with 20 of 20 components effective. With --sklearn_reference: QDA 0.975, GaussianMixture(k=2)
<= 127.2, BayesianGaussianMixture 20 effective (its plug-in density <= 239.5).

It also writes `bayes_samples.png` to --outdir: one row per class, the class mean in the first column, then
samples x ~ p(x | y) (clipped to [0, 1]).
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import data
from gen_jax.classical import bayes, gmm, vigmm
from gen_jax.metrics.likelihood import bits_per_dim, dequantized_nll

D, K_LEVELS = 64, 17


def _dequantize(rng, x):
    return (x.astype(np.float64) + np.asarray(jax.random.uniform(rng, x.shape, jnp.float64))) / K_LEVELS


def discrete_nll_bound(log_prob_fn, rng, x_test, draws):
    """E_u[-log p((x + u)/K)] + D log K averaged over test images and `draws` dequantizations, in nats/image."""
    vals = [-np.asarray(log_prob_fn(_dequantize(k, x_test))).mean() for k in jax.random.split(rng, draws)]
    return float(dequantized_nll(np.mean(vals), D, K_LEVELS))


def save_grid(images, path, scale=4):
    """images [rows, cols, 8, 8] in [0, 1] -> PNG with one-pixel gaps."""
    from PIL import Image

    rows, cols, h, w = images.shape
    canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1))
    for r in range(rows):
        for c in range(cols):
            canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = images[r, c]
    img = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    img.resize((img.width * scale, img.height * scale), Image.NEAREST).save(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--outdir", default="/tmp/gen_jax/classical_digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test_draws", type=int, default=10)
    p.add_argument("--gmm_ks", default="1,2,3,4,6,8")
    p.add_argument("--vi_components", type=int, default=20)
    p.add_argument("--sklearn_reference", action="store_true",
                   help="also fit scikit-learn's QDA / GaussianMixture / BayesianGaussianMixture on the same data")
    args = p.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)

    with jax.enable_x64(True):
        train, test = data.load_arrays("digits", "train"), data.load_arrays("digits", "test")
        xtr, ytr = train["x"].reshape(len(train["x"]), D), np.asarray(train["label"])
        xte, yte = test["x"].reshape(len(test["x"]), D), np.asarray(test["label"])
        key = jax.random.key(args.seed)
        k_train, k_test, k_gmm, k_vi, k_samp = jax.random.split(key, 5)
        ytrain = _dequantize(k_train, xtr)
        rows = []

        # 1. Class-conditional Gaussians; ridge chosen on a held-out fifth of the training set.
        t0 = time.time()
        val = np.arange(len(xtr)) % 5 == 0
        val_nll = {}
        for reg in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2):
            m = bayes.fit(ytrain[~val], ytr[~val], num_classes=10, reg=reg)
            val_nll[reg] = -float(np.mean(bayes.log_prob(m, ytrain[val])))
        reg = min(val_nll, key=val_nll.get)
        model = bayes.fit(ytrain, ytr, num_classes=10, reg=reg)
        nll = discrete_nll_bound(lambda y: bayes.log_prob(model, y), k_test, xte, args.test_draws)
        acc = bayes.accuracy(model, (xte + 0.5) / K_LEVELS, yte)
        rows.append((f"class-conditional Gaussian (reg={reg:g}, on validation)", nll))
        print(f"[bayes] validation NLL by reg: { {k: round(v, 2) for k, v in val_nll.items()} }; chose {reg:g} "
              f"({time.time() - t0:.1f}s)")
        print(f"[bayes] Bayes-rule test accuracy: {acc:.4f}")

        # Grid: per-class mean, then 9 samples from p(x | y).
        grid = []
        for c in range(10):
            s = np.asarray(bayes.sample_class(jax.random.fold_in(k_samp, c), model, c, 9))
            grid.append(np.concatenate([np.asarray(model.means[c])[None], s]).reshape(10, 8, 8))
        save_grid(np.stack(grid), os.path.join(args.outdir, "bayes_samples.png"))

        # 2. Full-covariance GMM by EM, k by BIC.
        t0 = time.time()
        fits = {}
        for k in (int(s) for s in args.gmm_ks.split(",")):
            g, info = gmm.fit(ytrain, k, rng=jax.random.fold_in(k_gmm, k), covariance_type="full", tol=1e-4,
                              max_iter=300)
            fits[k] = (g, gmm.bic(g, ytrain), int(info.num_iters))
        best_k = min(fits, key=lambda k: fits[k][1])
        g = fits[best_k][0]
        print("[gmm] BIC by k: " + ", ".join(f"k={k}: {b:.0f} ({it} it)" for k, (_, b, it) in fits.items())
              + f"; chose k={best_k} ({time.time() - t0:.1f}s)")
        nll = discrete_nll_bound(lambda y: gmm.log_prob(g, y), k_test, xte, args.test_draws)
        rows.append((f"GMM, full covariance, EM, k={best_k} by BIC", nll))

        # 3. Variational Bayesian GMM, Dirichlet-process prior.
        t0 = time.time()
        post, info = vigmm.fit(ytrain, args.vi_components, rng=k_vi, weight_prior="dirichlet_process", tol=1e-6,
                               max_iter=500)
        eff = vigmm.effective_components(post)
        print(f"[vigmm] {int(info.num_iters)} iterations, final ELBO/image {float(info.elbo[int(info.num_iters) - 1]):.2f}, "
              f"{eff} effective components of {args.vi_components} ({time.time() - t0:.1f}s)")
        nll = discrete_nll_bound(lambda y: vigmm.predictive_log_prob(post, y), k_test, xte, args.test_draws)
        rows.append((f"VI-GMM, DP prior, K={args.vi_components} ({eff} effective), predictive", nll))

        if args.sklearn_reference:
            _sklearn_reference(args, ytrain, ytr, xte, yte, reg, best_k, k_test)

    print()
    print("| model (digits, test, dequantized upper bound) | NLL nats/image | bits/dim |")
    print("|---|---|---|")
    for name, nll in rows:
        print(f"| {name} | <= {nll:.1f} | <= {float(bits_per_dim(nll, D)):.3f} |")
    print(f"| Bayes-rule classifier: test accuracy | {acc:.4f} | |")
    print(f"\nSamples grid: {os.path.join(args.outdir, 'bayes_samples.png')}")
    return rows


def _sklearn_reference(args, ytrain, ytr, xte, yte, reg, best_k, k_test):
    """The same models fitted by scikit-learn on the same dequantized data (a reference, not our code)."""
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    qda = QuadraticDiscriminantAnalysis(reg_param=reg).fit(ytrain, ytr)
    print(f"[sklearn] QDA(reg_param={reg:g}) test accuracy: {qda.score((xte + 0.5) / K_LEVELS, yte):.4f}")
    gm = GaussianMixture(best_k, covariance_type="full", random_state=args.seed).fit(ytrain)
    nll = discrete_nll_bound(lambda y: gm.score_samples(np.asarray(y)), k_test, xte, args.test_draws)
    print(f"[sklearn] GaussianMixture(k={best_k}, full) test NLL bound: {nll:.1f} nats/image")
    bgm = BayesianGaussianMixture(n_components=args.vi_components, weight_concentration_prior_type="dirichlet_process",
                                  max_iter=500, random_state=args.seed).fit(ytrain)
    nll = discrete_nll_bound(lambda y: bgm.score_samples(np.asarray(y)), k_test, xte, args.test_draws)
    print(f"[sklearn] BayesianGaussianMixture(K={args.vi_components}, DP): {int(np.sum(bgm.weights_ > 0.01))} effective, "
          f"plug-in test NLL bound {nll:.1f} nats/image")


if __name__ == "__main__":
    main()

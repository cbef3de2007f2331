"""Classical generative models: where "generate" starts with sampling from a fitted density.

* `bayes`   class-conditional Gaussians ("Bayesian classifier"): p(y), p(x|y) with a ridge, sampling, Bayes' rule;
* `gmm`     Gaussian mixtures by EM (full/tied/diag/spherical, k-means++, data-parallel over a device mesh),
            sampling, log-likelihood, responsibilities, BIC/AIC;
* `vigmm`   variational Bayesian Gaussian mixture (Dirichlet or Dirichlet-process weights, Gaussian-Wishart
            components), coordinate ascent on the ELBO, Student-t posterior predictive;
* `models`, `losses`, `steps`   the family's Experiments on the engine: the deterministic (MLP / conv)
            autoencoder (`config.experiment = 'autoencoder'`, with a linear probe on its codes) and the Gaussian
            mixture trained by online EM (`config.experiment = 'gmm'`).

All of it is JAX; scikit-learn appears only in the tests, as the oracle.
"""

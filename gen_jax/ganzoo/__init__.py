"""GANs that share, transfer, invert and inspect (issue 14), built on the GAN family's players and losses.

* `anogan`: AnoGAN (Schlegl et al. 2017): a DCGAN trained on one normal class, then per query a gradient
  search in latent space whose final loss is the anomaly score (`losses.anogan_loss`, `steps.latent_search`).
* `cogan`: CoGAN (Liu & Tuzel 2016): two generators sharing their first layers and two discriminators sharing
  their last layers (`models.CoupledPlayers`), trained on unpaired batches of two domains.

`gen_jax.ganzoo.anomaly` holds the ROC AUC and the classical anomaly baselines (PCA reconstruction error,
Gaussian kernel density, the library's GMM) that AnoGAN's table compares with.
"""

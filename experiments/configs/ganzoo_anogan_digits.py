"""AnoGAN (Schlegl et al. 2017) on the embedded 8x8 digits: class 0 is normal, the other nine are anomalies.

A DCGAN of the GAN family (non-saturating loss, Adam(2e-4, beta1 = 0.5)) trained on the class-0 training
digits only (the loader serves all classes; each batch keeps its normal examples, `ganzoo.steps.normal_only`),
then per test digit a 200-step Adam search in latent space on
(1 - 0.1) |x - G(z)|_1 + 0.1 |f_D(x) - f_D(G(z))|_1, whose final value is the anomaly score. The
`anomaly_auc` evaluator reports its ROC AUC over the 360 test digits (36 normal, 324 anomalous) beside
PCA reconstruction error (16 components), a Gaussian KDE and the library's 5-component diagonal GMM, all
fitted on the same 143 normal training digits.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_anogan_digits.py \
        --workdir=/tmp/gen_jax/ganzoo_anogan_digits
Result (seed 0, 2,000 steps, 12 min on a loaded 2-core CPU): ROC AUC 1.000 for the AnoGAN score, and 1.000
for each of its two terms and for PCA, KDE and GMM; 0.995 for the loss at the random z_0 (no search). Mean
scores 9.65 (normal) vs 43.99 (anomalous). On the 8x8 digits class 0 is separable by every detector: this
shows the pipeline works, not which detector is better (see ganzoo_anogan_mnist5k.py).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "anogan"
    c.dataset = "digits"
    c.batch_size = 128          # about 13 normal digits per batch
    c.eval_batch_size = 120
    c.num_train_steps = 2000
    c.log_every = 200
    c.eval_every = 2000
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.num_samples = 64
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        arch="dcgan", loss="nonsaturating", penalty="default", d_steps=1, pack=1, latent_dim=16,
        g_features=32, d_features=32, d_norm="batch", spectral_norm=False, conditional=False,
        conditioning="onehot", d_conditioning="onehot", embed_dim=16,
        normal_class=0, search_steps=200, search_lr=0.05, search_lambda=0.1, search_optimizer="adam"))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "anomaly": dict(kind="anomaly_auc", every=-1, batch_size=120, baselines=True, pca_components=16,
                        gmm_components=5),
    })
    return c

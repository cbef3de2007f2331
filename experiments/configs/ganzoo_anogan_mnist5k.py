"""AnoGAN (Schlegl et al. 2017) on mnist5k (28x28): class 0 is normal, the other nine are anomalies.

A DCGAN of the GAN family (non-saturating loss, Adam(2e-4, beta1 = 0.5)) trained on the class-0 training
digits only (the loader serves all classes; each batch keeps its normal examples, `ganzoo.steps.normal_only`),
then per test digit a 100-step Adam search in latent space on
(1 - 0.1) |x - G(z)|_1 + 0.1 |f_D(x) - f_D(G(z))|_1, whose final value is the anomaly score. The
`anomaly_auc` evaluator reports its ROC AUC over the 1,000 test digits beside
PCA reconstruction error (16 components), a Gaussian KDE and the library's 5-component diagonal GMM, all
fitted on the same normal training digits. A small CPU budget: 1,500 steps of batch 64 (about 6 normal
digits per batch), widths 16.

Command:
    nice -n 10 python -m experiments.run --config=experiments/configs/ganzoo_anogan_mnist5k.py \
        --workdir=/tmp/gen_jax/ganzoo_anogan_mnist5k
Result (RESULT_PLACEHOLDER)
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "anogan"
    c.dataset = "mnist5k"
    c.batch_size = 64           # about 6 normal digits per batch
    c.eval_batch_size = 100
    c.num_train_steps = 1500
    c.log_every = 200
    c.eval_every = 1500
    c.sample_every = 500
    c.checkpoint_every = 500
    c.num_samples = 64
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.ema_decay = 0.0
    c.model = ml_collections.ConfigDict(dict(
        arch="dcgan", loss="nonsaturating", penalty="default", d_steps=1, pack=1, latent_dim=32,
        g_features=16, d_features=16, d_norm="batch", spectral_norm=False, conditional=False,
        conditioning="onehot", d_conditioning="onehot", embed_dim=16,
        normal_class=0, search_steps=100, search_lr=0.05, search_lambda=0.1, search_optimizer="adam"))
    c.evals = ml_collections.ConfigDict({
        "test": dict(kind="split_mean"),
        "anomaly": dict(kind="anomaly_auc", every=-1, batch_size=100, baselines=True, pca_components=16,
                        gmm_components=5),
    })
    return c

"""Gaussian mixture (full covariance, k=2 as chosen by BIC in experiments/classical_digits.py) trained by online EM
on the engine (gen_jax.classical.steps.GMMExperiment: no optimizer, each train step is an EM iteration on a batch
with running sufficient statistics, Cappé & Moulines 2009).

Command:
    python -m experiments.run --config=experiments/configs/classical_gmm_digits.py \
        --workdir=/tmp/gen_jax/classical_gmm_digits

Expected (measured on the shared 2-core CPU, about a minute): test nll_nats 126.7 nats/image (dequantized
upper bound, nll_bpd 2.856), matching batch EM in `python -m experiments.classical_digits` (127.0); see the
README table of gen_jax.classical. The batch must be large: the k-means++ initialization sees only the first
batch, and with batch_size=256 the run settles in a worse optimum (131.3 nats).
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "gmm"
    c.dataset = "digits"
    c.batch_size = 512
    c.eval_batch_size = 120
    c.num_train_steps = 200
    c.log_every = 50
    c.eval_every = 100
    c.sample_every = 200
    c.checkpoint_every = 200
    c.model = ml_collections.ConfigDict(dict(num_components=2, covariance_type="full", reg_covar=1e-6, kappa=0.6,
                                             kmeans_iters=10))
    return c

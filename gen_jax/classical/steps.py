"""The classical family's two Experiments on the engine, and the linear probe on autoencoder codes.

* `autoencoder` (`config.experiment = 'autoencoder'`): the deterministic autoencoder, trained by gradient
  descent;
* `gmm` (`config.experiment = 'gmm'`): a Gaussian mixture trained by online EM, each train step one EM iteration
  on a batch with running sufficient statistics (no optimizer; see `GMMExperiment`).

The Bayes classifier, batch EM (`gmm.fit`) and the variational mixture are not Experiments: their own modules
(bayes, gmm, vigmm) fit them in a few closed-form iterations over the whole training set
(`experiments/classical_digits.py`).

The autoencoder's `train_step` minimizes the mean reconstruction loss of `losses.py` over the batch (images scaled
to [0, 1] with `gen_jax.data.preprocess.scale01`), `eval_step` reports per-example reconstruction errors, and
`visualize` shows test images beside their reconstructions.

The encoder is then reused as a feature extractor: `linear_probe` fits a multinomial logistic regression on the
codes of the training images and reports its test accuracy (`experiments/classical_autoencoder.py`).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.classical import gmm as gmm_lib
from gen_jax.classical import losses
from gen_jax.classical.models import Autoencoder, make_autoencoder, reconstruct
from gen_jax.core.experiment import Experiment, register
from gen_jax.data import preprocess as pp
from gen_jax.metrics.likelihood import bits_per_dim, dequantization_offset


@register("autoencoder")
class AutoencoderExperiment(Experiment):
    """Deterministic MLP or conv autoencoder; config.model: arch, code_dim, hidden (mlp), features (conv), loss."""

    def __init__(self, config, info):
        super().__init__(config, info)
        if info.num_levels is None:
            raise ValueError(f"the autoencoder needs image data with a known number of grey levels; dataset "
                             f"{info.name!r} has none")
        m = config.model
        self.model = make_autoencoder(m, info.shape)
        self.loss_fn = losses.reconstruction_loss(m.get("loss", "squared_error"))
        self.num_dims = int(np.prod(info.shape))
        self._visualize = jax.jit(self._reconstructions)   # once per experiment, not on a static `self`

    def to_unit(self, x):
        """Raw levels -> images in [0, 1] (the encoder input and the reconstruction target)."""
        return pp.scale01(x, self.info.num_levels)

    def encode(self, params, x):
        """Codes of raw images x: [B, code_dim]."""
        return self.model.apply({"params": params}, self.to_unit(x), method=Autoencoder.encode)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        # Jitted: eager (op-by-op) initialization of the conv model costs seconds on a CPU.
        params = jax.jit(self.model.init)(rng, jnp.zeros((1,) + tuple(self.info.shape), jnp.float32))["params"]
        return self.create_state(params, rng)

    def train_step(self, state, batch, rng):
        del rng  # deterministic model
        x01 = self.to_unit(batch["x"])

        def loss_fn(params):
            logits = self.model.apply({"params": params}, x01)
            return jnp.mean(self.loss_fn(x01, logits)), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads)
        mse = jnp.mean((x01 - reconstruct(logits)) ** 2)
        return state, dict(loss=loss, mse_per_pixel=mse, grad_norm=optax.global_norm(grads))

    def eval_step(self, state, batch, rng):
        del rng
        x01 = self.to_unit(batch["x"])
        logits = self.model.apply({"params": state.eval_params()}, x01)
        se = losses.squared_error(x01, logits)
        return dict(loss=self.loss_fn(x01, logits), squared_error=se, mse_per_pixel=se / self.num_dims,
                    cross_entropy=losses.cross_entropy(x01, logits))

    def reconstruct(self, state, batch, rng):
        """The autoencoder's reconstruction of a batch against the images themselves, in [0, 1]."""
        x01 = self.to_unit(batch["x"])
        return {"output": reconstruct(self.model.apply({"params": state.eval_params()}, x01)), "target": x01}

    def _reconstructions(self, params, x):
        x01 = self.to_unit(x)
        rec = reconstruct(self.model.apply({"params": params}, x01))
        return dict(reconstruction=jnp.stack([x01, rec], 1).reshape((-1,) + x01.shape[1:]))

    def visualize(self, state, rng):
        if len(self.info.shape) != 3:
            return {}
        return self._visualize(state.eval_params(), self.example_batch(32)["x"])


# ----------------------------------------------------------------------------------------------------------------
# Linear probe: the codes as features.


@partial(jax.jit, static_argnames=("num_classes", "steps"))
def fit_logistic_regression(features, labels, num_classes: int, l2: float = 1e-3, steps: int = 1000,
                            learning_rate: float = 0.05):
    """Multinomial logistic regression, mean cross-entropy + l2 ||W||^2, full-batch Adam from zero weights.

    Features are standardized with the training mean and standard deviation, which are returned with (W, b).
    Deterministic (no randomness). Returns (mean, std, W [F, C], b [C]).
    """
    mean = jnp.mean(features, axis=0)
    std = jnp.std(features, axis=0) + 1e-6
    z = (features - mean) / std
    onehot = jax.nn.one_hot(labels, num_classes)
    params = (jnp.zeros((features.shape[1], num_classes)), jnp.zeros((num_classes,)))
    tx = optax.adam(learning_rate)

    def loss_fn(p):
        logits = z @ p[0] + p[1]
        return -jnp.mean(jnp.sum(onehot * jax.nn.log_softmax(logits), -1)) + l2 * jnp.sum(p[0] ** 2)

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return mean, std, params[0], params[1]


def probe_accuracy(train_features, train_labels, test_features, test_labels, num_classes: int, **kw) -> float:
    """Test accuracy of a logistic regression fitted on the training features."""
    mean, std, w, b = fit_logistic_regression(jnp.asarray(train_features, jnp.float32), jnp.asarray(train_labels),
                                              num_classes, **kw)
    pred = jnp.argmax(((jnp.asarray(test_features, jnp.float32) - mean) / std) @ w + b, -1)
    return float(jnp.mean(pred == jnp.asarray(test_labels)))


def linear_probe(experiment: AutoencoderExperiment, params, train, test, batch_size: int = 512, **kw):
    """Accuracy of a linear classifier on the autoencoder's codes and, as a baseline, on the raw pixels.

    Args:
      experiment: the AutoencoderExperiment whose encoder is used.
      params: its (eval) params.
      train, test: {'x': raw images, 'label': int labels} (e.g. `gen_jax.data.load_arrays`).
    Returns:
      dict(code_accuracy=..., pixel_accuracy=...).
    """
    enc = jax.jit(experiment.encode)

    def codes(x):
        return np.concatenate([np.asarray(enc(params, jnp.asarray(x[i:i + batch_size])))
                               for i in range(0, len(x), batch_size)])

    c = experiment.info.num_classes
    flat = lambda x: np.asarray(experiment.to_unit(jnp.asarray(x))).reshape(len(x), -1)  # noqa: E731
    return dict(
        code_accuracy=probe_accuracy(codes(train["x"]), train["label"], codes(test["x"]), test["label"], c, **kw),
        pixel_accuracy=probe_accuracy(flat(train["x"]), train["label"], flat(test["x"]), test["label"], c, **kw),
    )


# ----------------------------------------------------------------------------------------------------------------
# The Gaussian mixture on the engine: EM as a train step.


@register("gmm")
class GMMExperiment(Experiment):
    """A Gaussian mixture trained by (online) EM on the engine: no optimizer, the step IS an EM iteration.

    Each step runs the E-step on the batch and updates running averages of the sufficient statistics
    (Cappé & Moulines 2009, "On-line expectation-maximization algorithm for latent data models"):

        s <- (1 - rho_t) s + rho_t * mean_batch[ r_k,  r_k y,  r_k y y^T ],   rho_t = (t + 2)^(-kappa)  (rho_0 = 1),

    then the M-step (`gmm.m_step_from_statistics`) w_k = s0_k / sum s0, mu_k = s1_k / s0_k, Sigma_k = s2_k / s0_k - mu_k mu_k^T + reg_covar I.
    With rho = 1 and the whole data set as the batch this is exactly one batch EM iteration (tested).
    Images are dequantized, y = (x + u) / K with fresh u each step, so eval_step reports the protocol's
    upper bound -log p(y) + D log K on the discrete NLL (nats per image and bits/dim); 2-D points are used as is.

    config.model: num_components, covariance_type ('full' | 'diag'), reg_covar, kappa (0.5 < kappa <= 1; or
    kappa=0 for rho = 1, plain EM on each batch), kmeans_iters (initialization from the first batch).
    """

    COVARIANCE_TYPES = ("full", "diag")

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.k = int(m.num_components)
        self.covariance_type = m.get("covariance_type", "full")
        if self.covariance_type not in self.COVARIANCE_TYPES:
            raise ValueError(f"the gmm experiment supports covariance_type in {self.COVARIANCE_TYPES}; "
                             f"got {self.covariance_type!r}")
        if self.k < 1:
            raise ValueError(f"model.num_components must be >= 1; got {self.k}")
        self.reg_covar = float(m.get("reg_covar", 1e-6))
        self.kappa = float(m.get("kappa", 0.6))
        if self.kappa != 0.0 and not 0.5 < self.kappa <= 1.0:
            raise ValueError(f"model.kappa must lie in (0.5, 1] (or be 0 for rho = 1); got {self.kappa}")
        self.num_dims = int(np.prod(info.shape))

    def points(self, x, rng):
        """Raw data -> points [B, D]: dequantized (x + u) / K for discrete data, as is for continuous data."""
        x = jnp.asarray(x)
        if self.info.num_levels is not None:
            x = pp.dequantize(rng, x, self.info.num_levels)
        x = x.reshape(x.shape[0], -1)
        return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)

    def nll_offset(self) -> float:
        return dequantization_offset(self.num_dims, self.info.num_levels) if self.info.num_levels else 0.0

    def to_gmm(self, params):
        return gmm_lib.from_covariances(params["weights"], params["means"], params["covariances"],
                                        self.covariance_type)

    def _batch_stats(self, params, y):
        """E-step on the batch: batch means of the sufficient statistics, and the per-point log-likelihoods."""
        log_resp, lp = gmm_lib.e_step(self.to_gmm(params), y)
        s0, s1, s2 = gmm_lib.sufficient_statistics(y, jnp.exp(log_resp), self.covariance_type)
        n = y.shape[0]
        return dict(s0=s0 / n, s1=s1 / n, s2=s2 / n), lp

    def _m_step(self, stats):
        g = gmm_lib.m_step_from_statistics(stats["s0"], stats["s1"], stats["s2"], self.covariance_type,
                                           self.reg_covar)
        return dict(weights=g.weights, means=g.means, covariances=g.covariances)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        r_data, r_init = jax.random.split(rng)
        y = self.points(batch["x"], r_data)
        if y.shape[0] < self.k:
            raise ValueError(f"the first batch has {y.shape[0]} points, fewer than num_components={self.k}: raise "
                             "batch_size")
        g = gmm_lib.initialize(r_init, y, self.k, self.covariance_type, self.reg_covar,
                               int(self.config.model.get("kmeans_iters", 10)))
        params = dict(weights=g.weights, means=g.means, covariances=g.covariances)
        stats, _ = self._batch_stats(params, y)
        return self.create_state(params, rng, tx=None, model_state=stats, ema_decay=None)   # EM: no optimizer, no EMA

    def train_step(self, state, batch, rng):
        y = self.points(batch["x"], rng)
        new, lp = self._batch_stats(state.params, y)
        if self.kappa == 0.0:
            rho = jnp.asarray(1.0, y.dtype)
        else:
            rho = jnp.where(state.step == 0, 1.0, (state.step.astype(y.dtype) + 2.0) ** (-self.kappa))
        stats = jax.tree.map(lambda old, b: (1.0 - rho) * old + rho * b, state.model_state, new)
        params = self._m_step(stats)
        ll = jnp.mean(lp)
        return state.replace(params=params, model_state=stats), dict(
            log_likelihood=ll, nll_nats=-ll + self.nll_offset(), step_size=rho)

    def eval_step(self, state, batch, rng):
        lp = gmm_lib.log_prob(self.to_gmm(state.params), self.points(batch["x"], rng))
        nll = -lp + self.nll_offset()
        return dict(log_likelihood=lp, nll_nats=nll, nll_bpd=bits_per_dim(nll, self.num_dims))

    def sample(self, state, rng, num, labels=None):
        """Mixture samples in data space: for discrete images the level floor(y K) of a draw y, scaled to
        [0, 1] as level / (K - 1) (the inverse of the dequantization the model was fitted on); points as drawn."""
        del labels
        from gen_jax.data import preprocess as pp

        y, _ = gmm_lib.sample(rng, self.to_gmm(state.params), int(num))
        if self.info.num_levels is None:
            return y.reshape((-1,) + tuple(self.info.shape))
        k = self.info.num_levels
        return (pp.undequantize(y, k).astype(jnp.float32) / (k - 1)).reshape((-1,) + tuple(self.info.shape))

    def visualize(self, state, rng):
        if len(self.info.shape) != 3:
            return {}
        x, _ = gmm_lib.sample(rng, self.to_gmm(state.params), int(self.config.num_samples))
        return dict(samples=jnp.clip(x, 0.0, 1.0).reshape((-1,) + tuple(self.info.shape)))

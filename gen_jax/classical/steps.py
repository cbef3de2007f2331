"""The autoencoder on the engine (`config.experiment = 'autoencoder'`), and the linear probe on its codes.

EM, the Bayes classifier and the variational mixture are fitted by their own modules (gmm, bayes, vigmm) in a
few closed-form iterations; the autoencoder is trained by gradient descent, so it is an Experiment like every
other family: `train_step` minimizes the mean reconstruction loss of `losses.py` over the batch (images scaled
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

from gen_jax.classical import losses
from gen_jax.classical.models import Autoencoder, make_autoencoder, reconstruct
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.data import preprocess as pp


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
        self._vis_images = None

    def inputs(self, x):
        """Raw levels -> images in [0, 1] (the encoder input and the reconstruction target)."""
        return pp.scale01(x, self.info.num_levels)

    def encode(self, params, x):
        """Codes of raw images x: [B, code_dim]."""
        return self.model.apply({"params": params}, self.inputs(x), method=Autoencoder.encode)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        # Jitted: eager (op-by-op) initialization of the conv model costs seconds on a CPU.
        params = jax.jit(self.model.init)(rng, jnp.zeros((1,) + tuple(self.info.shape), jnp.float32))["params"]
        return TrainState.create(params=params, tx=make_optimizer(self.config.optim), rng=rng,
                                 ema_decay=self.config.get("ema_decay") or None)

    def train_step(self, state, batch, rng):
        del rng  # deterministic model
        x01 = self.inputs(batch["x"])

        def loss_fn(params):
            logits = self.model.apply({"params": params}, x01)
            return jnp.mean(self.loss_fn(x01, logits)), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads)
        mse = jnp.mean((x01 - reconstruct(logits)) ** 2)
        return state, dict(loss=loss, mse_per_pixel=mse, grad_norm=optax.global_norm(grads))

    def eval_step(self, state, batch, rng):
        del rng
        x01 = self.inputs(batch["x"])
        logits = self.model.apply({"params": state.eval_params()}, x01)
        se = losses.squared_error(x01, logits)
        return dict(loss=self.loss_fn(x01, logits), squared_error=se, mse_per_pixel=se / self.num_dims,
                    cross_entropy=losses.cross_entropy(x01, logits))

    def _vis_batch(self, n: int = 32):
        if self._vis_images is None:
            from gen_jax.data import load_arrays

            self._vis_images = jnp.asarray(load_arrays(self.info.name, "test", data_dir=self.config.data_dir)["x"][:n])
        return self._vis_images

    @partial(jax.jit, static_argnums=0)
    def _visualize(self, params, x):
        x01 = self.inputs(x)
        rec = reconstruct(self.model.apply({"params": params}, x01))
        return dict(reconstruction=jnp.stack([x01, rec], 1).reshape((-1,) + x01.shape[1:]))

    def visualize(self, state, rng):
        if len(self.info.shape) != 3:
            return {}
        return self._visualize(state.eval_params(), self._vis_batch())


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
    flat = lambda x: np.asarray(experiment.inputs(jnp.asarray(x))).reshape(len(x), -1)  # noqa: E731
    return dict(
        code_accuracy=probe_accuracy(codes(train["x"]), train["label"], codes(test["x"]), test["label"], c, **kw),
        pixel_accuracy=probe_accuracy(flat(train["x"]), train["label"], flat(test["x"]), test["label"], c, **kw),
    )

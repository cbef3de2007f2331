"""GAN zoo experiments on the engine, built on `gen_jax.gan` (its `GAN` pieces, players and losses).

**AnoGAN** (`config.experiment = "anogan"`; Schlegl et al. 2017):
  1. training: the GAN family's two-player DCGAN step (`gen_jax.gan.steps.GAN.train_step`, unchanged) on
     NORMAL data only: examples of class `config.model.normal_class`. The loader serves every class; each
     batch is rebuilt from its normal examples (cycled in order, `normal_only`) so that D never sees an
     anomaly and the batch keeps its static size;
  2. per query x, a gradient search in latent space (`latent_search`): z_0 ~ N(0, I) from the query's key,
     then `model.search_steps` steps of Adam (or SGD) on z minimising
         L(z) = (1 - lambda) sum |x - G(z)| + lambda sum |f_D(x) - f_D(G(z))|        (paper Eqs. 3, 5, 6)
     with f_D the discriminator's features before its logit layer (`models.discriminator_features`), both
     players in inference mode, lambda = `model.search_lambda` (0.1 in the paper); a `lax.scan`, vmapped over
     queries;
  3. the anomaly score A(x) = L(z_Gamma), the loss after the last step (Eq. 10).
The `anomaly_auc` evaluator (registered here) scores a split and reports the ROC AUC of normal class vs the
others, beside PCA / KDE / GMM baselines fitted on the same normal training images (`gen_jax.ganzoo.anomaly`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import register
from gen_jax.gan.steps import GANExperiment
from gen_jax.ganzoo import losses
from gen_jax.ganzoo.models import discriminator_features

SEARCH_OPTIMIZERS = ("adam", "sgd")


# ----------------------------------------------------------------------------------------------------------
# AnoGAN
# ----------------------------------------------------------------------------------------------------------

def normal_only(batch, normal_class: int):
    """The batch with every example replaced by a normal one (label == normal_class): the k-th normal example
    of the batch (in batch order) at positions k, k + n, k + 2n, ... (n = the number of normal examples), so
    each normal example is used equally often (+-1) and the batch size stays static. Also returns n."""
    mask = jnp.asarray(batch["label"]) == normal_class
    b = mask.shape[0]
    order = jnp.argsort(jnp.logical_not(mask), stable=True)      # normal examples first, in batch order
    n = jnp.sum(mask)
    idx = order[jnp.arange(b) % jnp.maximum(n, 1)]
    return {k: jnp.asarray(v)[idx] for k, v in batch.items()}, n


def latent_search(generate, features, x, z0, num_steps: int, learning_rate: float, lam: float = 0.1,
                  optimizer: str = "adam"):
    """AnoGAN's search for the latent of ONE query x (Schlegl et al. 2017, Sec. 2.2).

    Args:
      generate: z [L] -> G(z) [...] (the query's shape).
      features: image [...] -> f_D(image) [F].
      x: the query, in the generator's output space.
      z0: [L] the starting latent.
      num_steps: Gamma, the number of optimizer steps.
    Returns:
      (z_Gamma [L], objectives [num_steps + 1]: L(z_0), ..., L(z_Gamma), (residual, discrimination) at z_Gamma).
    """
    if optimizer not in SEARCH_OPTIMIZERS:
        raise ValueError(f"unknown latent search optimizer {optimizer!r}; expected one of {SEARCH_OPTIMIZERS}")
    if num_steps < 1:
        raise ValueError(f"the latent search needs num_steps >= 1, got {num_steps}")
    fx = jax.lax.stop_gradient(features(x))[None]

    def parts(z):
        gz = generate(z)
        r = losses.residual_loss(x[None], gz[None])[0]
        d = losses.discrimination_loss(fx, features(gz)[None])[0]
        return (1.0 - lam) * r + lam * d, (r, d)

    tx = optax.adam(learning_rate) if optimizer == "adam" else optax.sgd(learning_rate)

    def step(carry, _):
        z, opt = carry
        (value, _), g = jax.value_and_grad(parts, has_aux=True)(z)
        upd, opt = tx.update(g, opt, z)
        return (optax.apply_updates(z, upd), opt), value

    (z, _), values = jax.lax.scan(step, (z0, tx.init(z0)), None, length=num_steps)
    final, (r, d) = parts(z)
    return z, jnp.concatenate([values, final[None]]), (r, d)


@register("anogan")
class AnoGANExperiment(GANExperiment):
    """A DCGAN of the GAN family trained on one normal class, and AnoGAN's latent-search anomaly score.

    config.model adds: normal_class, search_steps (Gamma), search_lr, search_lambda (0.1), search_optimizer.
    """

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if self.gan.num_classes:
            raise ValueError("anogan: the GAN is unconditional (it models the normal class only); set "
                             "model.conditional=False")
        if not info.num_classes:
            raise ValueError(f"anogan needs a labelled dataset to pick the normal class; {info.name!r} has none")
        self.normal_class = int(m.get("normal_class", 0))
        if not 0 <= self.normal_class < info.num_classes:
            raise ValueError(f"model.normal_class={self.normal_class} is not a class of {info.name!r} "
                             f"(0..{info.num_classes - 1})")
        self.search_steps = int(m.get("search_steps", 500))
        self.search_lr = float(m.get("search_lr", 0.05))
        self.search_lambda = float(m.get("search_lambda", 0.1))
        self.search_optimizer = m.get("search_optimizer", "adam")
        if self.search_optimizer not in SEARCH_OPTIMIZERS:
            raise ValueError(f"unknown model.search_optimizer {self.search_optimizer!r}; expected one of "
                             f"{SEARCH_OPTIMIZERS}")
        if not 0.0 <= self.search_lambda <= 1.0:
            raise ValueError(f"model.search_lambda must be in [0, 1], got {self.search_lambda}")

    def train_step(self, state, batch, rng):
        normal, n = normal_only(batch, self.normal_class)
        state, metrics = self.gan.train_step(state, normal, rng)
        return state, dict(metrics, normal_per_batch=n.astype(jnp.float32))

    def search_functions(self, state, use_ema=True):
        """(generate: z [L] -> G(z), features: image -> f_D(image)), both in inference mode."""
        g = self.gan
        params = state.eval_params() if use_ema else state.params
        d_vars = {"params": state.params["discriminator"], **state.model_state["discriminator"]}

        def generate(z):
            return g.generate(params["generator"], state.model_state["generator"], z[None], None,
                              train=False)[0][0]

        def features(img):
            return discriminator_features(g.discriminator, d_vars, img[None], train=False)[0][0]

        return generate, features

    def anomaly_scores(self, state, x, keys):
        """Per query of x (raw loader values [B, ...]) with its key [B, 2]: the AnoGAN score (the search's final
        loss), its residual and discrimination parts, and the loss at z_0 (before the search)."""
        g = self.gan
        xs = g.preprocess(x)
        generate, features = self.search_functions(state)

        def one(xi, key):
            z0 = g.sample_latent(key, 1)[0]
            _, values, (r, d) = latent_search(generate, features, xi, z0, self.search_steps, self.search_lr,
                                              self.search_lambda, self.search_optimizer)
            return dict(score=values[-1], residual=r, discrimination=d, initial=values[0])

        return jax.vmap(one)(xs, keys)


@register_evaluator("anomaly_auc")
class AnomalyAUC(Evaluator):
    """ROC AUC (normal class vs the others) of AnoGAN's score on a split, beside classical baselines.

    Settings: batch_size (queries per compiled search call), max_examples (0 = the whole split),
    baselines (True: PCA / KDE / GMM fitted on the normal images of config.train_split), pca_components,
    gmm_components. Metrics: auc (the score), auc_residual, auc_discrimination (each part alone), auc_pca,
    auc_kde, auc_gmm, score_normal / score_anomalous (mean scores), num_normal, num_anomalous.
    Query i's starting latent comes from fold_in(PRNGKey(seed), i): scores do not depend on the chunking.
    """

    def known_settings(self):
        return ("batch_size", "max_examples", "baselines", "pca_components", "gmm_components")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.batch_size = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        self.max_examples = int(self.settings.get("max_examples", 0) or 0)
        self._compiled = None

    def _arrays(self, split):
        from gen_jax import data as data_lib

        a = data_lib.load_arrays(self.dataset, split, data_dir=self.config.get("data_dir"))
        return np.asarray(a["x"]), np.asarray(a["label"])

    def run(self, state, step):
        from gen_jax.ganzoo import anomaly

        exp = self.trainer.experiment
        if not hasattr(exp, "anomaly_scores"):
            raise ValueError(f"evaluator {self.prefix!r} (anomaly_auc) needs an experiment with `anomaly_scores` "
                             f"(e.g. 'anogan'), got {type(exp).__name__}")
        x, y = self._arrays(self.split)
        if self.max_examples:
            x, y = x[:self.max_examples], y[:self.max_examples]
        is_anomaly = y != exp.normal_class
        if self._compiled is None:
            self._compiled = jax.jit(exp.anomaly_scores)
        key = jax.random.PRNGKey(self.seed)
        parts = []
        for start in range(0, len(x), self.batch_size):
            xb = x[start:start + self.batch_size]
            n = len(xb)
            if n < self.batch_size:        # pad to one compiled shape
                xb = np.concatenate([xb, np.repeat(xb[:1], self.batch_size - n, 0)])
            keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, start + self.batch_size))
            out = jax.device_get(self._compiled(state, jnp.asarray(xb), keys))
            parts.append({k: np.asarray(v)[:n] for k, v in out.items()})
        res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out = {"auc": anomaly.roc_auc(res["score"], is_anomaly),
               "auc_residual": anomaly.roc_auc(res["residual"], is_anomaly),
               "auc_discrimination": anomaly.roc_auc(res["discrimination"], is_anomaly),
               "auc_initial": anomaly.roc_auc(res["initial"], is_anomaly),
               "score_normal": float(res["score"][~is_anomaly].mean()),
               "score_anomalous": float(res["score"][is_anomaly].mean()),
               "search_decrease": float(np.mean(res["initial"] - res["score"])),
               "num_normal": float((~is_anomaly).sum()), "num_anomalous": float(is_anomaly.sum())}
        if self.settings.get("baselines", True):
            xt, yt = self._arrays(self.config.get("train_split", "train"))
            levels = float(exp.gan.num_levels - 1)
            train = xt[yt == exp.normal_class].astype(np.float32) / levels
            test = x.astype(np.float32) / levels
            base = anomaly.baseline_scores(train, test, int(self.settings.get("pca_components", 16)),
                                           int(self.settings.get("gmm_components", 5)), seed=self.seed)
            out.update({f"auc_{k}": anomaly.roc_auc(v, is_anomaly) for k, v in base.items()})
        return out.items()

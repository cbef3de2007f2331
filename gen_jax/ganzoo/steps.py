"""GAN zoo experiments on the engine, built on `gen_jax.gan` (its `GAN` pieces, players and losses).

**AnoGAN** (`config.experiment = "anogan"`; Schlegl et al. 2017):
  1. training: the GAN family's two-player DCGAN step (`gen_jax.gan.steps.GAN.train_step`, unchanged) on
     NORMAL data only: examples of class `config.model.normal_class`. The loader serves every class; each
     batch is rebuilt from its normal examples (cycled in order, `normal_only`) so that D never sees an
     anomaly and the batch keeps its static size (a batch with no normal example updates nothing);
  2. per query x, a gradient search in latent space (`latent_search`): z_0 ~ N(0, I) from the query's key,
     then `model.search_steps` steps of Adam (or SGD) on z minimising
         L(z) = (1 - lambda) sum |x - G(z)| + lambda sum |f_D(x) - f_D(G(z))|        (paper Eqs. 3, 5, 6)
     with f_D the discriminator's features before its logit layer (`models.discriminator_features`), both
     players in inference mode, lambda = `model.search_lambda` (0.1 in the paper); a `lax.scan`, vmapped over
     queries;
  3. the anomaly score A(x) = L(z_Gamma), the loss after the last step (Eq. 10).
The `anomaly_auc` evaluator (registered here) scores a split and reports the ROC AUC of normal class vs the
others, beside PCA / KDE / GMM baselines fitted on the same normal training images (`gen_jax.ganzoo.anomaly`).

**CoGAN** (`config.experiment = "cogan"`; Liu & Tuzel 2016, Algorithm 1): two DCGAN generators of the GAN
family, G1 and G2, whose first layers are ONE parameter subtree (`params['generator']['shared']`; the last
`model.g_private_layers` layers are each generator's own), and two DCGAN discriminators whose last layers are
one subtree (the first `model.d_private_layers` are private), see `models.split_shared`. Per step, on
unpaired batches of the two domains (loaders 'A' and 'B' of `config.inputs`, features `model.feature_a` /
`model.feature_b`), with ONE latent batch z for both generators:
    D <- D - Adam(grad [ mean L_D(D1(a), D1(G1(z))) + mean L_D(D2(b), D2(G2(z))) ])
    G <- G - Adam(grad [ mean L_G(D1(G1(z))) + mean L_G(D2(G2(z))) ])
(the GAN family's `discriminator_loss` / `generator_loss` of each domain, any of its losses and penalties);
because the shared arrays enter both players, their gradient is the sum of the two players' gradients.
Batch-norm statistics stay per player (they are not weights). The `pair_consistency` evaluator (registered
here) scores generated pairs (G1(z), G2(z)) by the known transform between the domains (`ganzoo.pairs`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.gan.steps import GAN, GANExperiment
from gen_jax.ganzoo import losses
from gen_jax.ganzoo.models import (
    couple,
    discriminator_features,
    player_params,
    split_shared,
)
from gen_jax.nn.latent import fixed_latents

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
        new, metrics = self.gan.train_step(state, normal, rng)
        # a batch without a normal example (rare for batches >= 64 of 10 classes) updates nothing
        new = jax.tree.map(lambda a, b: jnp.where(n > 0, a, b), new, state)
        return new, dict(metrics, normal_per_batch=n.astype(jnp.float32))

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


# ----------------------------------------------------------------------------------------------------------
# CoGAN
# ----------------------------------------------------------------------------------------------------------

PLAYERS = ("p1", "p2")


@register("cogan")
class CoGANExperiment(Experiment):
    """Coupled GANs on two unpaired domains (see the module docstring).

    config.inputs: {'A': {dataset, split, ...}, 'B': {...}}; config.model: the GAN family's keys (arch 'dcgan',
    loss, penalty, latent_dim, g_features, d_features, d_norm) plus feature_a, feature_b, g_private_layers,
    d_private_layers.
    """

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        names = set(self.inputs())
        if names != {"A", "B"}:
            raise ValueError(f"cogan trains on two unpaired domains: config.inputs must name loaders 'A' and 'B', "
                             f"got {sorted(names)}")
        if m.get("arch", "dcgan") != "dcgan" or m.get("conditional", False) or m.get("spectral_norm", False):
            raise ValueError("cogan shares layers of the GAN family's unconditional DCGAN players: set "
                             "model.arch='dcgan', conditional=False, spectral_norm=False")
        if int(m.get("d_steps", 1)) != 1 or int(m.get("pack", 1)) != 1:
            raise ValueError("cogan alternates one D and one G update (model.d_steps=1, model.pack=1)")
        self.features = {"A": m.get("feature_a", "x"), "B": m.get("feature_b", "x")}
        self.gans = {}
        for player, domain in zip(PLAYERS, "AB"):
            di = self.input_info(domain)
            feat = self.features[domain]
            if feat not in di.features:
                raise ValueError(f"model.feature_{domain.lower()}={feat!r} is not a feature of {di.name!r} "
                                 f"({', '.join(di.features)})")
            f = di.features[feat]
            self.gans[player] = GAN(m, tuple(f.shape), f.num_levels, 0)
        sa, sb = (self.gans[p].data_shape for p in PLAYERS)
        if sa[:2] != sb[:2]:
            raise ValueError(f"cogan: the two domains need the same image size to share layers, got {sa} and {sb}")
        self.g_private = int(m.get("g_private_layers", 1))
        self.d_private = int(m.get("d_private_layers", 1))
        self.latent_dim = self.gans["p1"].latent_dim
        self._visualize = jax.jit(self._grids)

    # -- state --------------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        keys = jax.random.split(rng, 2)
        inits = {p: self.gans[p].init(k) for p, k in zip(PLAYERS, keys)}
        params, model_state = {}, {}
        for player, private in (("generator", self.g_private), ("discriminator", self.d_private)):
            p1, p2 = inits["p1"][0][player], inits["p2"][0][player]
            shared, _ = split_shared(p1, player, private)
            params[player] = couple(p1, p2, shared)
            model_state[player] = {p: inits[p][1][player] for p in PLAYERS}
        g_tx = make_optimizer(self.config.optim)
        d_tx = make_optimizer(self.config.d_optim) if self.config.get("d_optim") else make_optimizer(self.config.optim)
        return TrainState.create(params=params, tx={"generator": g_tx, "discriminator": d_tx}, rng=rng,
                                 model_state=model_state, ema_decay=self.config.get("ema_decay") or None)

    # -- the coupled losses -------------------------------------------------------------------------------
    def discriminator_loss(self, d_params, d_state, reals, fakes, rng):
        """Sum over the two domains of the GAN family's D loss; d_params is the coupled dict."""
        total, new_state, metrics = 0.0, {}, {}
        for i, p in enumerate(PLAYERS):
            loss, (st, m) = self.gans[p].discriminator_loss(player_params(d_params, p), d_state[p], reals[p],
                                                            fakes[p], None, jax.random.fold_in(rng, i))
            total = total + loss
            new_state[p] = st
            metrics.update({f"{k}_{p}": v for k, v in m.items()})
        return total, (new_state, metrics)

    def generator_loss(self, g_params, g_state, d_params, d_state, z):
        """Sum over the two domains of the GAN family's G loss, both generators fed the same z."""
        total, new_state, metrics = 0.0, {}, {}
        for p in PLAYERS:
            loss, st = self.gans[p].generator_loss(player_params(g_params, p), g_state[p],
                                                   player_params(d_params, p), d_state[p], z, None)
            total = total + loss
            new_state[p] = st
            metrics[f"g_loss_{p}"] = loss
        return total, (new_state, metrics)

    def generate_pair(self, params, g_state, z, train=False):
        """(G1(z), G2(z)) in each domain's generator space, and the generators' updated collections."""
        out, st = {}, {}
        for p in PLAYERS:
            out[p], st[p] = self.gans[p].generate(player_params(params, p), g_state[p], z, None, train=train)
        return out, st

    def train_step(self, state, batch, rng):
        reals = {p: self.gans[p].preprocess(batch[d][self.features[d]]) for p, d in zip(PLAYERS, "AB")}
        b = reals["p1"].shape[0]
        if reals["p2"].shape[0] != b:
            raise ValueError(f"cogan: loaders 'A' and 'B' must have one batch size, got {b} and "
                             f"{reals['p2'].shape[0]}")
        kz, kp, kg = jax.random.split(rng, 3)
        fakes, _ = self.generate_pair(state.params["generator"], state.model_state["generator"],
                                      self.gans["p1"].sample_latent(kz, b), train=True)
        fakes = jax.lax.stop_gradient(fakes)
        d_grads, (d_state, d_metrics) = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], state.model_state["discriminator"], reals, fakes, kp)
        state = state.apply_gradients(d_grads, player="discriminator", model_state=d_state)
        z = self.gans["p1"].sample_latent(kg, b)
        (g_loss, (g_state, g_metrics)), g_grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
            state.params["generator"], state.model_state["generator"], state.params["discriminator"],
            state.model_state["discriminator"], z)
        state = state.apply_gradients(g_grads, player="generator", model_state=g_state)
        return state, dict(d_metrics, **g_metrics, g_loss=g_loss, d_grad_norm=optax.global_norm(d_grads),
                           g_grad_norm=optax.global_norm(g_grads))

    # -- sampling -----------------------------------------------------------------------------------------
    def sample_pairs(self, state, rng, num: int):
        """num pairs (G1(z), G2(z)) from z ~ N(0, I), images in [0, 1] (EMA generators when kept)."""
        z = self.gans["p1"].sample_latent(rng, int(num))
        out, _ = self.generate_pair(state.eval_params()["generator"], state.model_state["generator"], z)
        return tuple(self.gans[p].to_images01(out[p]) for p in PLAYERS)

    def sample(self, state, rng, num, labels=None, domain: str = "A"):
        """Samples of one domain ('A' or 'B', via the samples evaluator's sample_kwargs), images in [0, 1]."""
        if domain not in ("A", "B"):
            raise ValueError(f"cogan samples domain 'A' or 'B', got {domain!r}")
        return self.sample_pairs(state, rng, num)[0 if domain == "A" else 1]

    def _grids(self, state):
        """64 fixed latents: rows alternate G1 and G2 on the same 8 latents (a pair is one column of 2 rows)."""
        z = fixed_latents(self.config.seed, 32, self.latent_dim)
        out, _ = self.generate_pair(state.eval_params()["generator"], state.model_state["generator"], z)
        a, b = (self.gans[p].to_images01(out[p]) for p in PLAYERS)
        if a.shape[-1] != b.shape[-1]:
            a, b = (jnp.broadcast_to(v, v.shape[:-1] + (3,)) if v.shape[-1] == 1 else v for v in (a, b))
        rows = jnp.stack([a.reshape((4, 8) + a.shape[1:]), b.reshape((4, 8) + b.shape[1:])], 1)
        return {"pairs": rows.reshape((64,) + a.shape[1:])}

    def visualize(self, state, rng):
        return self._visualize(state)


@register_evaluator("pair_consistency")
class PairConsistency(Evaluator):
    """Pixel agreement and pair consistency of num_pairs generated pairs (`gen_jax.ganzoo.pairs`).

    Settings: num_pairs (1000), batch_size, transform ('invert' | 'edges'), pixel_tol (0.1), pair_threshold
    (0.9). Pairs come from fixed keys fold_in(PRNGKey(seed), chunk)."""

    needs_dataset = False

    def known_settings(self):
        return ("num_pairs", "batch_size", "transform", "pixel_tol", "pair_threshold")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        from gen_jax.ganzoo.pairs import TRANSFORMS

        self.transform = self.settings.get("transform", "invert")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"config.evals.{prefix}.transform must be one of {TRANSFORMS}, got {self.transform!r}")
        self.num_pairs = int(self.settings.get("num_pairs", 1000))
        self.batch_size = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        self._compiled = None

    def check(self):
        pass

    def run(self, state, step):
        from gen_jax.ganzoo.pairs import pair_metrics

        exp = self.trainer.experiment
        if not hasattr(exp, "sample_pairs"):
            raise ValueError(f"evaluator {self.prefix!r} (pair_consistency) needs an experiment with `sample_pairs` "
                             f"(e.g. 'cogan'), got {type(exp).__name__}")
        if self._compiled is None:
            self._compiled = jax.jit(exp.sample_pairs, static_argnums=2)
        key = jax.random.PRNGKey(self.seed)
        a, b = [], []
        for i, start in enumerate(range(0, self.num_pairs, self.batch_size)):
            pa, pb = jax.device_get(self._compiled(state, jax.random.fold_in(key, i), self.batch_size))
            m = min(self.batch_size, self.num_pairs - start)
            a.append(np.asarray(pa)[:m])
            b.append(np.asarray(pb)[:m])
        return pair_metrics(np.concatenate(a), np.concatenate(b), self.transform,
                            float(self.settings.get("pixel_tol", 0.1)),
                            float(self.settings.get("pair_threshold", 0.9))).items()

# The other GAN-zoo modules register their experiments and evaluators on import: DTN, IcGAN and Age-cGAN
# TP-GAN and PerceptualGAN (issue 14); MidiNet, 3DGAN, PG2 and MGAN (issue 16).
from gen_jax.ganzoo import dtn, icgan, midinet, mgan, perceptual, pg2, tpgan, voxels  # noqa: E402,F401

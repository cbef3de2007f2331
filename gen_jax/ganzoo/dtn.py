"""DTN, the Domain Transfer Network (Taigman, Polyak & Wolf 2017, "Unsupervised Cross-Domain Image
Generation"), as an engine experiment (`config.experiment = "dtn"`).

G = g o f: f is a FIXED feature extractor trained on the labelled SOURCE domain (here the library's image
classifier, `gen_jax.metrics.classifier.ImageClassifier`, trained on the source's train split; f(x) = its
128-unit penultimate ReLU layer, as the paper takes f from a digit classifier trained on SVHN), g a DCGAN
generator of the GAN family (`gen_jax.gan.models.DCGANGenerator`) fed f(x) in place of z. D is three-way
(`heads.DCGANHeads` with 3 logits): class 0 = g(f(source)), 1 = g(f(target)), 2 = a real target image.
Per step, on unpaired source and target batches (loaders 'source' and 'target'):

    D <- D - Adam(grad mean L_D)                       L_D  = Eq. 2 (`losses.dtn_discriminator_loss`)
    g <- g - Adam(grad mean [ L_GANG + alpha L_CONST + beta L_TID + gamma L_TV ])            (Eq. 4)
        L_GANG  = Eq. 3 (`losses.dtn_generator_adversarial_loss`)
        L_CONST = ||f(x) - f(g(f(x)))||^2 / dim f         on source x (Eq. 5, `losses.f_constancy_loss`)
        L_TID   = ||t - g(f(t))||^2 / dim t               on target t (Eq. 6, `losses.tid_loss`)
        L_TV    = TV(g(f(x)))                              on source x (Eq. 7, `losses.total_variation`)

The squared distances are divided by their dimension (mean squared error; the paper leaves the scale of d
to its weights). Defaults: the paper's digit setting alpha = beta = 15, gamma = 0 (Sec. 5.1). f reads images
in [0, 1] with the source's channels: a grey target image (and g's grey output) is repeated over 3 channels
for an RGB f, as the paper feeds MNIST to the SVHN network. f's parameters live in `state.extra['f']` and are
never updated (checkpointed with the rest; resume is exact).

Measured by the `translation` evaluator of `gen_jax.translation.steps` (this class has its `translate` hook):
the accuracy of a classifier trained on the REAL target images on the translated source test images, for the
source digit's label (the paper's SVHN -> MNIST protocol, Table 2).

D's normalisation defaults to layer norm (`model.d_norm = 'layer'`): D's update sees the batch [g(f(s)), g(f(t)), t]
and g's update only [g(f(s)), g(f(t))], so batch norm would normalise the two with different statistics (with
it, D won its update while g's saw a fooled D, and g learned nothing in 600 steps of the MNIST-M run).

config.model: f_arch ('mlp' | 'cnn'), f_steps, g_features, d_features, d_norm, const_weight (alpha),
tid_weight (beta), tv_weight (gamma), feature_source / feature_target ('x').
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.data import preprocess as pp
from gen_jax.gan.models import DCGANGenerator
from gen_jax.gan.steps import GAN
from gen_jax.ganzoo import losses
from gen_jax.ganzoo.heads import DCGANHeads


@functools.lru_cache(maxsize=8)
def source_classifier(dataset: str, split: str, arch: str, steps: int, data_dir=None, seed: int = 0):
    """f's network: `ImageClassifier.train(dataset, split, arch=arch, steps=steps, seed=seed)` once per process
    (deterministic for its arguments)."""
    from gen_jax.metrics.classifier import ImageClassifier

    return ImageClassifier.train(dataset, split, arch=arch, steps=steps, seed=seed, data_dir=data_dir)


# (output, new collections) of a module in training or inference mode: the GAN family's own helper
_apply = GAN._apply


@register("dtn")
class DTNExperiment(Experiment):
    """Domain Transfer Network (see the module docstring)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if set(self.inputs()) != {"source", "target"}:
            raise ValueError(f"dtn trains on two unpaired domains: config.inputs must name loaders 'source' and "
                             f"'target', got {sorted(self.inputs())}")
        self.features = {"source": m.get("feature_source", "x"), "target": m.get("feature_target", "x")}
        feats = {}
        for name in ("source", "target"):
            di = self.input_info(name)
            f = self.features[name]
            if f not in di.features or not di.features[f].num_levels:
                raise ValueError(f"model.feature_{name}={f!r} must be an image feature of {di.name!r} "
                                 f"({', '.join(di.features)})")
            feats[name] = di.features[f]
        self.levels = {k: v.num_levels for k, v in feats.items()}
        s, t = (tuple(feats[k].shape) for k in ("source", "target"))
        if s[:2] != t[:2] or s[0] != s[1]:
            raise ValueError(f"dtn: source and target images must be square and of one size, got {s} and {t}")
        if t[2] != s[2] and t[2] != 1:
            raise ValueError(f"dtn: f reads {s[2]}-channel images; a {t[2]}-channel target cannot be fed to it")
        self.source_shape, self.target_shape = s, t
        self.source_dataset = config.inputs.source.get("dataset") or config.dataset
        self.f_split = m.get("f_split", config.inputs.source.get("split") or "train")
        self.f_arch, self.f_steps = m.get("f_arch", "mlp"), int(m.get("f_steps", 1500))
        self.alpha = float(m.get("const_weight", 15.0))
        self.beta = float(m.get("tid_weight", 15.0))
        self.gamma = float(m.get("tv_weight", 0.0))
        self.clf = source_classifier(self.source_dataset, self.f_split, self.f_arch, self.f_steps,
                                     config.get("data_dir"))
        self.f_dim = int(self.clf.module.hidden)
        self.g = DCGANGenerator(image_size=t[0], channels=t[2], features=int(m.get("g_features", 64)))
        self.d = DCGANHeads(image_size=t[0], heads={"logits": 3}, features=int(m.get("d_features", 64)),
                            norm=m.get("d_norm", "layer"))

    # -- f, g, D ------------------------------------------------------------------------------------------
    def f(self, f_params, images01):
        """f(x) [B, F]: the source classifier's penultimate features of images in [0, 1]."""
        if images01.shape[-1] != self.source_shape[2]:
            images01 = jnp.repeat(images01, self.source_shape[2], -1)
        return self.clf.module.apply({"params": f_params}, images01)[1]

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        gv = self.g.init(kg, jnp.zeros((2, self.f_dim)), train=False)
        dv = self.d.init(kd, jnp.zeros((2,) + self.target_shape), train=False)
        split = lambda v: (v["params"], {k: c for k, c in v.items() if k != "params"})
        (gp, gs), (dp, ds) = split(gv), split(dv)
        # f is copied into the state: the engine donates the state's buffers, the cached classifier keeps its own
        tx = {"generator": make_optimizer(self.config.optim),
              "discriminator": make_optimizer(self.config.d_optim if self.config.get("d_optim") else
                                              self.config.optim)}
        return TrainState.create(params={"generator": gp, "discriminator": dp}, tx=tx, rng=rng,
                                 model_state={"generator": gs, "discriminator": ds},
                                 extra={"f": jax.tree.map(lambda a: jnp.array(a, copy=True), self.clf.params)}, ema_decay=self.config.get("ema_decay") or None)

    def _inputs(self, batch):
        s = batch["source"][self.features["source"]]
        t = batch["target"][self.features["target"]]
        s01 = pp.scale01(s, self.levels["source"])
        t_pm1 = pp.center_pm1(t, self.levels["target"])
        return s01, t_pm1

    def _d_logits(self, d_params, d_state, x, train=True):
        out, st = _apply(self.d, d_params, d_state, train, x)
        return out["logits"], st

    def generator_terms(self, g_params, g_state, f_params, s01, t_pm1, train=True):
        """Per-example L_CONST, L_TID, L_TV and the two translations, and g's new collections."""
        fs = self.f(f_params, s01)
        ft = self.f(f_params, (t_pm1 + 1.0) / 2.0)
        b = s01.shape[0]
        out, g_state = _apply(self.g, g_params, g_state, train, jnp.concatenate([fs, ft]))
        gs, gt = out[:b], out[b:]
        const = losses.f_constancy_loss(fs, self.f(f_params, (gs + 1.0) / 2.0)) / self.f_dim
        tid = losses.tid_loss(t_pm1, gt) / t_pm1[0].size
        tv = losses.total_variation(gs)
        return dict(const=const, tid=tid, tv=tv), (gs, gt), g_state

    def train_step(self, state, batch, rng):
        s01, t_pm1 = self._inputs(batch)
        if s01.shape[0] != t_pm1.shape[0]:
            raise ValueError(f"dtn: loaders 'source' and 'target' must have one batch size, got {s01.shape[0]} "
                             f"and {t_pm1.shape[0]}")
        f_params = state.extra["f"]
        _, (gs, gt), _ = self.generator_terms(state.params["generator"], state.model_state["generator"],
                                              f_params, s01, t_pm1)
        gs, gt = jax.lax.stop_gradient(gs), jax.lax.stop_gradient(gt)
        b = s01.shape[0]

        def d_loss(dp):
            logits, st = self._d_logits(dp, state.model_state["discriminator"], jnp.concatenate([gs, gt, t_pm1]))
            l = losses.dtn_discriminator_loss(logits[:b], logits[b:2 * b], logits[2 * b:])
            return jnp.mean(l), st

        (dl, d_state), d_grads = jax.value_and_grad(d_loss, has_aux=True)(state.params["discriminator"])
        state = state.apply_gradients(d_grads, player="discriminator", model_state=d_state)

        def g_loss(gp):
            terms, (gs, gt), g_state = self.generator_terms(gp, state.model_state["generator"], f_params, s01,
                                                            t_pm1)
            logits, _ = self._d_logits(state.params["discriminator"], state.model_state["discriminator"],
                                       jnp.concatenate([gs, gt]))
            gang = losses.dtn_generator_adversarial_loss(logits[:b], logits[b:])
            total = gang + self.alpha * terms["const"] + self.beta * terms["tid"] + self.gamma * terms["tv"]
            metrics = {k: jnp.mean(v) for k, v in terms.items()}
            metrics["gang"] = jnp.mean(gang)
            return jnp.mean(total), (g_state, metrics)

        (gl, (g_state, g_metrics)), g_grads = jax.value_and_grad(g_loss, has_aux=True)(state.params["generator"])
        state = state.apply_gradients(g_grads, player="generator", model_state=g_state)
        return state, dict(g_metrics, d_loss=dl, g_loss=gl, d_grad_norm=optax.global_norm(d_grads),
                           g_grad_norm=optax.global_norm(g_grads))

    # -- evaluation hooks ---------------------------------------------------------------------------------
    def translate(self, state, batch, rng, direction="AB"):
        """g(f(x)) in [0, 1] for a batch of SOURCE images (feature model.feature_source), g in inference mode."""
        if direction != "AB":
            raise ValueError(f"dtn translates source -> target only (direction 'AB'), got {direction!r}")
        s01 = pp.scale01(batch[self.features["source"]], self.levels["source"])
        out, _ = _apply(self.g, state.eval_params()["generator"], state.model_state["generator"], False,
                        self.f(state.extra["f"], s01))
        return (out + 1.0) / 2.0

    def eval_step(self, state, batch, rng):
        """Per source test example: L_CONST and L_TV of its translation (g in inference mode)."""
        s01 = pp.scale01(batch[self.features["source"]], self.levels["source"])
        fp = state.extra["f"]
        y = self.translate(state, batch, rng)
        return dict(const=losses.f_constancy_loss(self.f(fp, s01), self.f(fp, y)) / self.f_dim,
                    tv=losses.total_variation(2.0 * y - 1.0))

    def visualize(self, state, rng):
        batch = self.example_batch(32)
        y = self.translate(state, batch, rng)
        s01 = pp.scale01(batch[self.features["source"]], self.levels["source"])
        if y.shape[-1] != s01.shape[-1]:
            y = jnp.repeat(y, s01.shape[-1], -1)
        return {"translations": jnp.concatenate([s01.reshape((4, 8) + s01.shape[1:]),
                                                 y.reshape((4, 8) + y.shape[1:])], 1).reshape((64,) + s01.shape[1:])}

"""Perceptual GAN (Li, Liang, Wei, Xu, Feng & Yan 2017, "Perceptual Generative Adversarial Networks for Small
Object Detection"), as an engine experiment (`config.experiment = "perceptual_gan"`), on `pasted_digits`:
each digit pasted SMALL (a 10x10 frame, ~7-pixel digit) and LARGE (28x28) into a blank 32x32 canvas.

**Base network** (`BaseFeatures`): conv1 (3x3, stride 1, ReLU) gives the LOWER-layer features, conv2 and conv3
(4x4, stride 2, ReLU) the DEEP features (stride 4). Each object's features are pooled from its box (the
pasted frame, known from the dataset: the detector's proposal in the paper) to a fixed g x g grid by
`roi_align` (one bilinear sample at each bin's centre: RoIAlign of He et al. 2017 with one sample per bin;
the paper uses RoI pooling): deep features F [g, g, C] and lower features f [g_low, g_low, C1].

**Generator** (Sec. 3.1, Fig. 2): G(f_small) is a RESIDUAL: conv, a stride-2 conv down to g x g, `res_blocks`
residual blocks, a linear 3x3 conv to C channels; the super-resolved features are F_sr = F_small + G(f_small)
(`super_resolve`), trained to look like F_large.

**Discriminator** (Sec. 3.2), two branches on g x g x C feature maps, both `heads.DCGANHeads` (the GAN family's
DCGAN discriminator body with a linear head):
* ADVERSARIAL branch A ('adv': 1 logit): real = F_large, fake = F_sr; loss `gen_jax.gan.losses.
  discriminator_minimax_loss`, the generator's adversarial loss -log A(F_sr) (`generator_nonsaturating_loss`);
* PERCEPTION branch P ('cls': C classes): the classifier of RoI features; its cross-entropy on F_sr
  (`perception_loss`) is the generator's perception loss, which keeps the super-resolved features
  classifiable (L_G = L_adv + perception_weight L_perception; the paper's L_Dp is the detector's
  classification + box regression loss; no boxes are regressed here).

**Training as the paper** (Sec. 3.3): first the base network and P are trained as a classifier on LARGE objects
(`pretrain_base`, `model.base_steps` Adam steps on the train split, once per process); then the base network is
frozen (`state.extra['base']`) and the GAN stage alternates, per step: A <- minimax loss; P <- cross-entropy on
F_large (it stays the large-object classifier it was pretrained as); G <- L_adv + w L_perception. The
pretrained P is also kept frozen (`state.extra['p0']`) for the "without generator" measurement.

**Measurement** (the paper's small-object detection protocol, as classification of the small objects): the
`small_objects` evaluator (registered here) gives on the test split the accuracy of the pretrained P on plain
small-object features (without the perceptual generator: `small_plain_acc`), of the trained P on F_sr (with it:
`small_sr_acc`), of the trained P on plain small features (`small_plain_trained_p_acc`), and on large-object
features (the ceiling: `large_acc`, and `large_pretrained_acc`).

config.model: widths (C1, C2, C3), grid g, lower_grid, g_features, res_blocks, d_features, d_norm,
perception_weight, adv_weight, base_steps, base_lr, small_size / large_size (the frames' sides, 10 / 28).
"""
from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import SplitMean, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.data import preprocess as pp
from gen_jax.gan import losses as gan_losses
from gen_jax.ganzoo.dtn import _apply
from gen_jax.ganzoo.heads import DCGANHeads


def perception_loss(logits, labels):
    """The perception branch's classification loss per example: -log softmax(logits)_y (cross-entropy).
    logits [B, C], labels [B] ints. Returns [B]."""
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"perception_loss: expected logits [B, C] and labels [B], got {logits.shape} and "
                         f"{labels.shape}")
    return -jnp.take_along_axis(jax.nn.log_softmax(logits, -1), labels[:, None].astype(jnp.int32), -1)[:, 0]


def super_resolve(features_small, residual):
    """F_sr = F_small + G(f_small) (Li et al. 2017, Eq. 3): the generator's output is a residual on the small
    object's deep features."""
    if features_small.shape != residual.shape:
        raise ValueError(f"super_resolve: the residual {residual.shape} must have the features' shape "
                         f"{features_small.shape}")
    return features_small + residual


def roi_align(fmap, corner, box_size: float, grid: int, stride: int):
    """[B, g, g, C]: the feature map [B, h, w, C] (stride `stride` pixels) sampled bilinearly at the centres
    of the g x g bins of each example's box (top-left pixel `corner` [B, 2], side `box_size` pixels); outside
    the map the features are 0."""
    if fmap.ndim != 4 or corner.shape != (fmap.shape[0], 2):
        raise ValueError(f"roi_align: expected a map [B, h, w, C] and corners [B, 2], got {fmap.shape} and "
                         f"{corner.shape}")
    centres = (jnp.arange(grid) + 0.5) * (box_size / grid)                       # pixel offsets in the box
    pix = corner[:, :, None].astype(jnp.float32) + centres[None, None, :]       # [B, 2, g] (pixel edges)
    cell = pix / stride - 0.5                                                    # map coordinates of cell centres
    # bilinear weights as hat functions max(0, 1 - |coordinate - j|) over the map's rows / columns j: the
    # interpolation is then two small matrix products (cells beyond the map get no weight: zero padding)
    hat = lambda c, n: jnp.maximum(0.0, 1.0 - jnp.abs(c[:, :, None] - jnp.arange(n, dtype=jnp.float32)))
    wr, wc = hat(cell[:, 0], fmap.shape[1]), hat(cell[:, 1], fmap.shape[2])     # [B, g, h], [B, g, w]
    return jnp.einsum("bgh,bhwc,bkw->bgkc", wr, fmap, wc)


class BaseFeatures(nn.Module):
    """image [B, H, W, 1] in [0, 1] -> (lower map [B, H, W, C1], deep map [B, H/4, W/4, C3])."""
    widths: tuple = (16, 32, 32)

    @nn.compact
    def __call__(self, x):
        c1, c2, c3 = self.widths
        low = nn.relu(nn.Conv(c1, (3, 3), name="conv1")(x))
        h = nn.relu(nn.Conv(c2, (4, 4), strides=(2, 2), name="conv2")(low))
        deep = nn.relu(nn.Conv(c3, (4, 4), strides=(2, 2), name="conv3")(h))
        return low, deep


class ResidualGenerator(nn.Module):
    """Lower features [B, 2g, 2g, C1] -> residual [B, g, g, C] (conv, stride-2 conv, residual blocks, linear conv)."""
    out_channels: int
    features: int = 32
    res_blocks: int = 2

    @nn.compact
    def __call__(self, f, train: bool = True):
        h = nn.relu(nn.Conv(self.features, (3, 3))(f))
        h = nn.relu(nn.Conv(self.features, (4, 4), strides=(2, 2))(h))
        for i in range(self.res_blocks):
            r = nn.relu(nn.Conv(self.features, (3, 3), name=f"res_{i}_a")(h))
            h = nn.relu(h + nn.Conv(self.features, (3, 3), name=f"res_{i}_b")(r))
        return nn.Conv(self.out_channels, (3, 3), name="out")(h)


@functools.lru_cache(maxsize=4)
def pretrain_base(dataset: str, split: str, widths: tuple, grid: int, p_features: int, num_classes: int,
                  large_size: int, steps: int, lr: float, batch_size: int = 64, seed: int = 0, data_dir=None):
    """Stage 1 (Li et al. 2017, Sec. 3.3): the base network and the perception branch trained together as a
    classifier of LARGE objects (Adam, `steps` minibatches of `batch_size`; deterministic for its arguments).
    Returns (base params, P params)."""
    from gen_jax import data as data_lib

    arr = data_lib.load_arrays(dataset, split, data_dir=data_dir, features=("large", "large_position", "label"))
    x = jnp.asarray(np.asarray(arr["large"], np.float32) / 255.0)
    pos, y = jnp.asarray(arr["large_position"]), jnp.asarray(arr["label"], jnp.int32)
    base, p = BaseFeatures(tuple(widths)), DCGANHeads(image_size=grid, heads={"cls": num_classes},
                                                      features=p_features, norm="none")
    kb, kp, kt = jax.random.split(jax.random.PRNGKey(seed), 3)
    bp = base.init(kb, x[:1])["params"]
    pp_ = p.init(kp, jnp.zeros((1, grid, grid, widths[2])), train=False)["params"]
    tx = optax.adam(lr)
    n, b = x.shape[0], min(batch_size, x.shape[0])

    def loss(params, xb, pb, yb):
        _, deep = base.apply({"params": params[0]}, xb)
        logits = p.apply({"params": params[1]}, roi_align(deep, pb, float(large_size), grid, 4), train=False)["cls"]
        return jnp.mean(perception_loss(logits, yb))

    # one compiled step called `steps` times (the same steps inside a `lax.scan` ran about 20x slower on CPU)
    @jax.jit
    def step(prm, o, k):
        idx = jax.random.choice(k, n, (b,), replace=False)
        g = jax.grad(loss)(prm, x[idx], pos[idx], y[idx])
        u, o = tx.update(g, o, prm)
        return optax.apply_updates(prm, u), o

    prm, o = (bp, pp_), tx.init((bp, pp_))
    for k in jax.random.split(kt, steps):
        prm, o = step(prm, o, k)
    return jax.device_get(prm)


@register("perceptual_gan")
class PerceptualGANExperiment(Experiment):
    """Perceptual GAN on small / large pasted digits (see the module docstring)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        for f in ("small", "large", "small_position", "large_position", "label"):
            if f not in info.features:
                raise ValueError(f"perceptual_gan needs feature {f!r} (a pasted_digits-like dataset); "
                                 f"{info.name!r} has {', '.join(info.features)}")
        self.num_classes = int(info.features["label"].num_classes)
        self.levels = int(info.features["small"].num_levels)
        self.canvas = tuple(info.features["small"].shape)
        self.widths = tuple(int(v) for v in m.get("widths", (16, 32, 32)))
        if len(self.widths) != 3:
            raise ValueError(f"perceptual_gan: model.widths must give 3 widths (conv1, conv2, conv3), got {self.widths}")
        self.grid = int(m.get("grid", 4))
        self.lower_grid = int(m.get("lower_grid", 2 * self.grid))
        if self.lower_grid != 2 * self.grid:
            raise ValueError(f"perceptual_gan: the generator halves the lower features once: lower_grid must be "
                             f"2 * grid = {2 * self.grid}, got {self.lower_grid}")
        self.small_size, self.large_size = int(m.get("small_size", 10)), int(m.get("large_size", 28))
        self.pw, self.aw = float(m.get("perception_weight", 1.0)), float(m.get("adv_weight", 1.0))
        self.base = BaseFeatures(self.widths)
        pf = int(m.get("p_features", 32))
        self.p = DCGANHeads(image_size=self.grid, heads={"cls": self.num_classes}, features=pf, norm="none")
        self.a = DCGANHeads(image_size=self.grid, heads={"adv": 1}, features=int(m.get("d_features", 32)),
                            norm=m.get("d_norm", "layer"))
        self.g = ResidualGenerator(self.widths[2], int(m.get("g_features", 32)), int(m.get("res_blocks", 2)))
        self.pretrained = pretrain_base(config.dataset, config.get("train_split", "train"), self.widths, self.grid,
                                        pf, self.num_classes, self.large_size, int(m.get("base_steps", 1500)),
                                        float(m.get("base_lr", 1e-3)), seed=int(config.get("seed", 0)),
                                        data_dir=config.get("data_dir"))

    # -- features ----------------------------------------------------------------------------------------
    def features(self, base_params, batch, kind):
        """(lower RoI features [B, 2g, 2g, C1], deep RoI features [B, g, g, C3]) of the 'small' or 'large' object."""
        x = pp.scale01(batch[kind], self.levels)
        low, deep = self.base.apply({"params": base_params}, x)
        pos, size = batch[f"{kind}_position"], self.small_size if kind == "small" else self.large_size
        return (roi_align(low, pos, float(size), self.lower_grid, 1),
                roi_align(deep, pos, float(size), self.grid, 4))

    def super_resolved(self, g_params, base_params, batch):
        low, deep = self.features(base_params, batch, "small")
        return super_resolve(deep, self.g.apply({"params": g_params}, low)), deep

    def init_state(self, rng, batch):
        kg, ka = jax.random.split(rng)
        gp = self.g.init(kg, jnp.zeros((1, self.lower_grid, self.lower_grid, self.widths[0])))["params"]
        av = self.a.init(ka, jnp.zeros((2, self.grid, self.grid, self.widths[2])), train=False)
        ap, ast = av["params"], {k: v for k, v in av.items() if k != "params"}
        copy = lambda t: jax.tree.map(lambda a: jnp.array(a, copy=True), t)
        base_p, p_p = self.pretrained
        d_opt = self.config.d_optim if self.config.get("d_optim") else self.config.optim
        tx = {"generator": make_optimizer(self.config.optim), "adversarial": make_optimizer(d_opt),
              "perception": make_optimizer(d_opt)}
        return TrainState.create(params={"generator": gp, "adversarial": ap, "perception": copy(p_p)}, tx=tx,
                                 rng=rng, model_state={"generator": {}, "adversarial": ast, "perception": {}},
                                 extra={"base": copy(base_p), "p0": copy(p_p)},
                                 ema_decay=self.config.get("ema_decay") or None)

    def _p_logits(self, p_params, feats):
        return self.p.apply({"params": p_params}, feats, train=False)["cls"]

    def adversarial_terms(self, a_params, a_state, real, fake, train=True):
        """Per-example minimax loss of the adversarial branch (real = F_large, fake = F_sr) and its logits."""
        b = real.shape[0]
        out, st = _apply(self.a, a_params, a_state, train, jnp.concatenate([real, fake]))
        logits = out["adv"][:, 0]
        return gan_losses.discriminator_minimax_loss(logits[:b], logits[b:]), logits, st

    def train_step(self, state, batch, rng):
        bp, y = state.extra["base"], batch["label"]
        _, f_large = self.features(bp, batch, "large")
        sr, _ = self.super_resolved(state.params["generator"], bp, batch)
        sr = jax.lax.stop_gradient(sr)

        def a_loss(ap):
            l, _, st = self.adversarial_terms(ap, state.model_state["adversarial"], f_large, sr)
            return jnp.mean(l), st

        (al, a_state), a_grads = jax.value_and_grad(a_loss, has_aux=True)(state.params["adversarial"])
        state = state.apply_gradients(a_grads, player="adversarial", model_state=a_state)
        pl, p_grads = jax.value_and_grad(lambda q: jnp.mean(perception_loss(self._p_logits(q, f_large), y)))(
            state.params["perception"])
        state = state.apply_gradients(p_grads, player="perception")

        def g_loss(gp):
            sr, _ = self.super_resolved(gp, bp, batch)
            out, _ = _apply(self.a, state.params["adversarial"], state.model_state["adversarial"], False, sr)
            adv = gan_losses.generator_nonsaturating_loss(out["adv"][:, 0])
            perc = perception_loss(self._p_logits(state.params["perception"], sr), y)
            return jnp.mean(self.aw * adv + self.pw * perc), (jnp.mean(adv), jnp.mean(perc))

        (gl, (adv, perc)), g_grads = jax.value_and_grad(g_loss, has_aux=True)(state.params["generator"])
        state = state.apply_gradients(g_grads, player="generator")
        return state, dict(a_loss=al, p_large_loss=pl, g_loss=gl, g_adv=adv, g_perception=perc,
                           g_grad_norm=optax.global_norm(g_grads))

    # -- evaluation --------------------------------------------------------------------------------------
    def predictions(self, state, batch):
        """Class predictions [B] of: the pretrained P on plain small features, the trained P on F_sr, on plain
        small features and on large features, the pretrained P on large features."""
        bp, params = state.extra["base"], state.eval_params()
        sr, deep_small = self.super_resolved(params["generator"], bp, batch)
        _, deep_large = self.features(bp, batch, "large")
        pred = lambda q, f: jnp.argmax(self._p_logits(q, f), -1)
        return dict(small_plain=pred(state.extra["p0"], deep_small), small_sr=pred(params["perception"], sr),
                    small_plain_trained_p=pred(params["perception"], deep_small),
                    large=pred(params["perception"], deep_large), large_pretrained=pred(state.extra["p0"], deep_large))

    def eval_step(self, state, batch, rng):
        """Per test example: 1 where each classifier of `predictions` is right, and ||F_sr - F_large||^2 / dim
        against ||F_small - F_large||^2 / dim."""
        out = {f"{k}_acc": (v == batch["label"]).astype(jnp.float32) for k, v in self.predictions(state, batch).items()}
        bp = state.extra["base"]
        sr, deep_small = self.super_resolved(state.eval_params()["generator"], bp, batch)
        _, deep_large = self.features(bp, batch, "large")
        d = lambda a: jnp.mean((a - deep_large) ** 2, (1, 2, 3))
        return dict(out, sr_large_dist=d(sr), small_large_dist=d(deep_small))


@register_evaluator("small_objects")
class SmallObjects(SplitMean):
    """Small-object classification with and without the perceptual generator on `split` (see the module
    docstring): `split_mean` of `PerceptualGANExperiment.eval_step`, for that experiment only."""

    def run(self, state, step):
        if not hasattr(self.trainer.experiment, "predictions"):
            raise ValueError(f"evaluator {self.prefix!r} (small_objects) needs a perceptual_gan experiment, got "
                             f"{type(self.trainer.experiment).__name__}")
        return super().run(state, step)

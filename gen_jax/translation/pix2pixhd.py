"""pix2pixHD (Wang et al. 2018, "High-Resolution Image Synthesis and Semantic Manipulation with Conditional
GANs"): coarse-to-fine generator, multi-scale discriminators, the discriminator feature-matching loss, label
maps one-hot plus instance boundary maps as input. Registered as the `pix2pixhd` experiment with the
`scene_fcn` evaluator (the FCN-score idea on `labels2scenes`).

Input (Sec. 3.3-3.4): the label map one-hot (C channels) concatenated with the instance boundary map
(`instance_boundaries`: 1 where a pixel's instance id differs from one of its 4 neighbours, both sides
marked, as the authors' code does), values in {0, 1}.

Networks (Sec. 3.2; widths and depths by config):
  * `GlobalGenerator` G1: c7s1-k, num_downsamples x d(2k...), num_blocks residual blocks (CycleGAN's R blocks,
    `gen_jax.nn.image2image.ResidualBlock`), as many u layers back, c7s1-3 tanh (k = 64, 4 downsamplings,
    9 blocks in the paper), run on the input downsampled x2;
  * `LocalEnhancer` G2 (with G1 inside as 'global'): front end c7s1-k/2, d(k) on the full-resolution input,
    whose output is ADDED to G1's last feature map (before G1's output layer), then local_blocks residual
    blocks, u(k/2), c7s1-3 tanh;
  * `MultiscaleDiscriminator`: num_scales (3) PatchGANs (`gen_jax.nn.image2image.PatchDiscriminator`) of the
    same architecture, D_k on the (label input, image) pair downsampled k times (3x3 average pooling of
    stride 2, padding excluded from the mean, as the authors' code). `discriminator_features` returns every
    layer's activation of every scale (LeakyReLU outputs, read from the PatchGAN's intermediates) with the
    final logit map last.

Losses (per example, `gen_jax.translation.losses` for the LSGAN terms):
    min_G  sum_k (D_k(s, G(s)) - 1)^2 + lambda sum_k L_FM(G, D_k)         (Eq. 4-5, LSGAN, lambda = 10)
    min_D  sum_k (1/2)[(D_k(s, x) - 1)^2 + D_k(s, G(s))^2]
    L_FM(G, D_k) = sum_{i=1}^{T} (1 / N_i) || D_k^(i)(s, x) - D_k^(i)(s, G(s)) ||_1   (`feature_matching_loss`)
(the i-th layer's activations, N_i its number of elements; the real side carries no gradient). The paper's
optional VGG perceptual loss needs a pretrained VGG and is left out (as are the instance-wise feature
encoder of Sec. 3.4 and its interactive editing).

Training schedule (Sec. 3.2, "we first train the global generator and then train the local enhancer in the
order of their resolutions. We then jointly fine-tune all the networks together"; the authors' code fixes G1
for the first epochs of the local phase): steps < model.global_steps train G1 alone at half resolution (its
output against the x2-downsampled real image, judged by D_1, D_2 (the discriminators that see that resolution
of a full-size image); D_0's Adam sees zero gradients then, which leave its parameters unchanged); then
model.fix_global_steps steps train the local enhancer with G1 fixed; then everything jointly. G1 and G2
have their own Adam (players 'global' and 'local'), so a fixed G1 is not moved by its optimizer's momentum.

`scene_fcn` evaluator (the FCN-score of Isola et al. 2017 / Wang et al. 2018, Table 1): a per-pixel
classifier (`PixelClassifier`, three 3x3 convolutions) trained by the library on the REAL train scenes labels
every pixel of G(label map) of the test split; pixel accuracy, mean per-class accuracy and mean IoU over the
classes (from the confusion matrix of the whole split), the same for the real test scenes (the ceiling),
and the L1 distance of G(s) to the true scene in [0, 1] units.
"""
from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import register
from gen_jax.data import preprocess as pp
from gen_jax.nn import image2image as i2i
from gen_jax.translation import losses
from gen_jax.translation.steps import (
    _levels,
    _Translation,
    classifier_cache_dir,
    make_translation_optimizer,
    to01,
)

# -- inputs ---------------------------------------------------------------------------------------------------

def instance_boundaries(instance):
    """[B, H, W] integer instance ids -> float32 [B, H, W]: 1 at every pixel whose id differs from its left,
    right, upper or lower neighbour (pix2pixHD's boundary map), else 0."""
    t = jnp.asarray(instance)
    if t.ndim != 3:
        raise ValueError(f"instance_boundaries expects instance maps [B, H, W], got shape {t.shape}")
    dx = t[:, :, 1:] != t[:, :, :-1]
    dy = t[:, 1:, :] != t[:, :-1, :]
    e = jnp.zeros(t.shape, bool)
    e = e.at[:, :, 1:].set(e[:, :, 1:] | dx).at[:, :, :-1].set(e[:, :, :-1] | dx)
    e = e.at[:, 1:, :].set(e[:, 1:, :] | dy).at[:, :-1, :].set(e[:, :-1, :] | dy)
    return e.astype(jnp.float32)


def label_input(label, instance, num_classes: int):
    """[B, H, W, C + 1]: the one-hot label map and the instance boundary map (values in {0, 1})."""
    label = jnp.asarray(label)
    if label.ndim != 3:
        raise ValueError(f"label_input expects label maps [B, H, W], got shape {label.shape}")
    return jnp.concatenate([jax.nn.one_hot(label, num_classes), instance_boundaries(instance)[..., None]], -1)


def downsample(x):
    """x2 downsampling of [B, H, W, C]: 3x3 average pooling of stride 2 with padding 1, padded pixels left
    out of each mean (PyTorch's AvgPool2d(3, 2, 1, count_include_pad=False) of the authors' code)."""
    pad = ((0, 0), (1, 1), (1, 1), (0, 0))
    s = jax.lax.reduce_window(jnp.pad(x, pad), 0.0, jax.lax.add, (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
    n = jax.lax.reduce_window(jnp.pad(jnp.ones(x.shape[:3] + (1,), x.dtype), pad), 0.0, jax.lax.add,
                              (1, 3, 3, 1), (1, 2, 2, 1), "VALID")
    return s / n


# -- generators -----------------------------------------------------------------------------------------------

def _c7s1(features, name, bias=False):
    conv = nn.Conv(features, (7, 7), padding="VALID", use_bias=bias, name=name)
    return lambda h: conv(i2i.reflect_pad(h, 3))


class GlobalGenerator(nn.Module):
    """G1 (see the module docstring): [B, H, W, C_in] -> ([B, H, W, out_channels] in [-1, 1], the last feature
    map [B, H, W, features] before the output layer)."""

    out_channels: int = 3
    features: int = 64
    num_downsamples: int = 4
    num_blocks: int = 9
    norm: str = "instance"

    @nn.compact
    def __call__(self, x):
        m = 2 ** self.num_downsamples
        if x.ndim != 4 or x.shape[1] % m or x.shape[2] % m:
            raise ValueError(f"GlobalGenerator: input {x.shape} must be [B, H, W, C] with H, W multiples of "
                             f"2^num_downsamples = {m}")
        nrm = lambda h, name: i2i._norm(h, self.norm, name=name)
        h = nn.relu(nrm(_c7s1(self.features, "c7s1_in")(x), "norm_in"))
        for i in range(self.num_downsamples):
            h = nn.Conv(self.features * 2 ** (i + 1), (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                        use_bias=False, name=f"d{i}")(h)
            h = nn.relu(nrm(h, f"norm_d{i}"))
        for b in range(self.num_blocks):
            h = i2i.ResidualBlock(self.norm, name=f"R{b}")(h)
        for i in reversed(range(self.num_downsamples)):
            h = nn.ConvTranspose(self.features * 2 ** i, (3, 3), strides=(2, 2), padding="SAME", use_bias=False,
                                 name=f"u{i}")(h)
            h = nn.relu(nrm(h, f"norm_u{i}"))
        return jnp.tanh(_c7s1(self.out_channels, "c7s1_out", bias=True)(h)), h


class LocalEnhancer(nn.Module):
    """G = {G1, G2} (see the module docstring): [B, H, W, C_in] -> [B, H, W, out_channels]; with
    `use_local=False` only G1 on the x2-downsampled input: [B, H / 2, W / 2, out_channels]."""

    out_channels: int = 3
    features: int = 32               # k/2 of the paper: G2's width; G1 has twice as many
    global_downsamples: int = 4
    global_blocks: int = 9
    local_blocks: int = 3
    norm: str = "instance"

    @nn.compact
    def __call__(self, x, use_local: bool = True):
        g_out, g_feat = GlobalGenerator(self.out_channels, 2 * self.features, self.global_downsamples,
                                        self.global_blocks, self.norm, name="global")(downsample(x))
        if not use_local:
            return g_out
        nrm = lambda h, name: i2i._norm(h, self.norm, name=name)
        h = nn.relu(nrm(_c7s1(self.features, "c7s1_in")(x), "norm_in"))
        h = nn.Conv(2 * self.features, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False,
                    name="d0")(h)
        h = nn.relu(nrm(h, "norm_d0")) + g_feat
        for b in range(self.local_blocks):
            h = i2i.ResidualBlock(self.norm, name=f"R{b}")(h)
        h = nn.ConvTranspose(self.features, (3, 3), strides=(2, 2), padding="SAME", use_bias=False, name="u0")(h)
        h = nn.relu(nrm(h, "norm_u0"))
        return jnp.tanh(_c7s1(self.out_channels, "c7s1_out", bias=True)(h))


# -- discriminators -------------------------------------------------------------------------------------------

class MultiscaleDiscriminator(nn.Module):
    """num_scales PatchGANs, D_k on the input downsampled k times: [B, H, W, C] -> [logit maps of D_0..]."""

    num_scales: int = 3
    features: int = 64
    num_layers: int = 3
    max_features: int = 512
    norm: str = "instance"

    @nn.compact
    def __call__(self, x, first_scale: int = 0):
        """`first_scale` = j: x is already at resolution 1 / 2^j and only D_j.. judge it (the global phase)."""
        if self.num_scales < 1 or not 0 <= first_scale < self.num_scales:
            raise ValueError(f"MultiscaleDiscriminator: need 0 <= first_scale ({first_scale}) < num_scales "
                             f"({self.num_scales})")
        outs = []
        for k in range(first_scale, self.num_scales):
            outs.append(i2i.PatchDiscriminator(self.features, self.num_layers, self.max_features, self.norm,
                                               name=f"D{k}")(x))
            if k + 1 < self.num_scales:
                x = downsample(x)
        return outs


def discriminator_features(module: MultiscaleDiscriminator, params, x, first_scale: int = 0):
    """[[layer activations of D_k..., logit map of D_k] for each scale k]: every layer's LeakyReLU output
    (after its norm, where it has one) read from the PatchGAN's intermediates, the logits last."""
    logits, st = module.apply({"params": params}, x, first_scale, capture_intermediates=True,
                              mutable=["intermediates"])
    inter = st["intermediates"]
    n = len(i2i.patchgan_layers(module.num_layers))
    out = []
    for j, k in enumerate(range(first_scale, module.num_scales)):
        feats = []
        for i in range(n - 1):
            normed = 0 < i and module.norm != "none"
            name = f"norm{i}" if normed else f"conv{i}"
            feats.append(nn.leaky_relu(inter[f"D{k}"][name]["__call__"][0], 0.2))
        out.append(feats + [logits[j]])
    return out


# -- losses ---------------------------------------------------------------------------------------------------

def feature_matching_loss(real_features, fake_features):
    """L_FM summed over scales (Wang et al. 2018, Eq. 4): sum_k sum_i mean |D_k^(i)(s, x) - D_k^(i)(s, G(s))|
    over the intermediate layers i (the logits excluded), per example. Arguments as `discriminator_features`
    returns them; the caller stops the gradient of the real side."""
    if len(real_features) != len(fake_features):
        raise ValueError(f"feature_matching_loss: {len(real_features)} real scales vs {len(fake_features)} fake")
    total = 0.0
    for r, f in zip(real_features, fake_features):
        if len(r) != len(f):
            raise ValueError("feature_matching_loss: the two sides have different layer counts")
        for a, b in zip(r[:-1], f[:-1]):
            total = total + losses.l1_distance(b, a)
    return total


def multiscale_lsgan_generator_loss(fake_features):
    """sum_k (D_k(s, G(s)) - 1)^2 (patch means), per example."""
    return sum(losses.lsgan_generator_loss(f[-1]) for f in fake_features)


def multiscale_lsgan_discriminator_loss(real_features, fake_features):
    """sum_k (1/2)[(D_k(s, x) - 1)^2 + D_k(s, G(s))^2] (patch means), per example."""
    return sum(losses.lsgan_discriminator_loss(r[-1], f[-1]) for r, f in zip(real_features, fake_features))


# -- the experiment -------------------------------------------------------------------------------------------

@register("pix2pixhd")
class Pix2PixHD(_Translation):
    """pix2pixHD on a dataset of label maps (model.label, classes [H, W]), instance maps (model.instance) and
    images (model.target); see the module docstring."""

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None:
            raise ValueError("pix2pixhd needs config.dataset: label maps, instance maps and images "
                             "(e.g. labels2scenes)")
        m = config.model
        self.label_key, self.instance_key = m.get("label", "label"), m.get("instance", "instance")
        self.target = m.get("target", "x")
        for key in (self.label_key, self.instance_key):
            if key not in info.features:
                raise ValueError(f"pix2pixhd: dataset {info.name!r} has no feature {key!r} ({', '.join(info.features)})")
        lf = info.features[self.label_key]
        if lf.kind != "classes" or len(lf.shape) != 2:
            raise ValueError(f"pix2pixhd: model.label {self.label_key!r} must be a class map [H, W], got kind "
                             f"{lf.kind!r} shape {lf.shape}")
        self.num_classes = int(lf.num_classes)
        self.tgt_levels, self.tgt_shape = _levels(info, self.target, "pix2pixhd model.target")
        self.in_shape = tuple(lf.shape) + (self.num_classes + 1,)
        self.fm_weight = float(m.get("feature_matching_weight", 10.0))
        self.global_steps = int(m.get("global_steps", 0))
        self.fix_global_steps = int(m.get("fix_global_steps", 0))
        self.eval_generator = m.get("eval_generator", "full")
        if self.eval_generator not in ("full", "global"):
            raise ValueError(f"pix2pixhd: model.eval_generator must be 'full' (G1 + local enhancer) or 'global' "
                             f"(G1 alone, upsampled), got {self.eval_generator!r}")
        if min(self.fm_weight, self.global_steps, self.fix_global_steps) < 0:
            raise ValueError("pix2pixhd: feature_matching_weight, global_steps and fix_global_steps must be >= 0")
        if self.global_steps and int(m.get("discriminator", {}).get("num_scales", 3)) < 2:
            raise ValueError("pix2pixhd: the global phase (model.global_steps > 0) is judged by D_1.. at half "
                             "resolution, which needs discriminator.num_scales >= 2")
        g, d = m.get("generator", {}), m.get("discriminator", {})
        self.generator = LocalEnhancer(self.tgt_shape[-1], int(g.get("features", 32)),
                                       int(g.get("global_downsamples", 4)), int(g.get("global_blocks", 9)),
                                       int(g.get("local_blocks", 3)), g.get("norm", "instance"))
        self.discriminator = MultiscaleDiscriminator(
            int(d.get("num_scales", 3)), int(d.get("features", 64)),
            i2i.num_layers_for_receptive_field(int(d.get("receptive_field", 70))),
            int(d.get("max_features", 512)), d.get("norm", "instance"))
        self._visualize = jax.jit(self._grids)

    # -- networks --------------------------------------------------------------------------------------------
    @staticmethod
    def _g_params(params):
        return {"global": params["global"], **params["local"]}

    def generate(self, params, s, use_local=True):
        return self.generator.apply({"params": self._g_params(params)}, s, use_local=use_local)

    def features(self, d_params, s, y, first_scale=0):
        return discriminator_features(self.discriminator, d_params, jnp.concatenate([s, y], -1), first_scale)

    def prepare(self, batch):
        s = label_input(batch[self.label_key], batch[self.instance_key], self.num_classes)
        return s, pp.center_pm1(batch[self.target], self.tgt_levels)

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        s = jnp.zeros((1,) + self.in_shape)
        g = dict(self.generator.init(kg, s)["params"])
        d = self.discriminator.init(kd, jnp.zeros((1,) + self.in_shape[:2] + (self.in_shape[2] + self.tgt_shape[2],)))
        params = {"global": g.pop("global"), "local": g, "discriminator": d["params"]}
        d_cfg = self.config.get("d_optim") or self.config.optim
        tx = {"global": make_translation_optimizer(self.config.optim),
              "local": make_translation_optimizer(self.config.optim),
              "discriminator": make_translation_optimizer(d_cfg)}
        return self.create_state(params, rng, tx=tx)

    # -- losses ------------------------------------------------------------------------------------------------
    def g_loss(self, g_params, d_params, s, y):
        fake = self.generate(g_params, s)
        real_f = jax.lax.stop_gradient(self.features(d_params, s, y))
        fake_f = self.features(d_params, s, fake)
        adv = multiscale_lsgan_generator_loss(fake_f)
        fm = feature_matching_loss(real_f, fake_f)
        total = adv + self.fm_weight * fm
        return jnp.mean(total), (dict(g_loss=jnp.mean(total), g_adv=jnp.mean(adv), g_fm=jnp.mean(fm)), fake)

    def d_loss(self, d_params, s, y, fake, first_scale=0):
        loss = multiscale_lsgan_discriminator_loss(self.features(d_params, s, y, first_scale),
                                                   self.features(d_params, s, fake, first_scale))
        return jnp.mean(loss), dict(d_loss=jnp.mean(loss))

    def _phase_step(self, state, s, y, use_local):
        """One step of D then G: the full model (`use_local`) or G1 alone at half resolution."""
        if use_local:
            g_params = {"global": state.params["global"], "local": state.params["local"]}
            fake = jax.lax.stop_gradient(self.generate(g_params, s))
        else:
            s, y = downsample(s), downsample(y)
            fake = jax.lax.stop_gradient(self._global_module().apply({"params": state.params["global"]}, s)[0])
        d_grads, d_metrics = jax.grad(self.d_loss, has_aux=True)(state.params["discriminator"], s, y, fake,
                                                                 0 if use_local else 1)
        state = state.apply_gradients(d_grads, player="discriminator")
        if use_local:
            grads, (g_metrics, _) = jax.grad(self.g_loss, has_aux=True)(g_params, state.params["discriminator"], s, y)
            state = state.apply_gradients(grads["local"], player="local")
            joint = state.step >= self.global_steps + self.fix_global_steps
            state = jax.lax.cond(joint, lambda st: st.apply_gradients(grads["global"], player="global"),
                                 lambda st: st, state)
        else:
            grads, (g_metrics, _) = jax.grad(self._global_loss, has_aux=True)(state.params["global"],
                                                                             state.params["discriminator"], s, y)
            state = state.apply_gradients(grads, player="global")
        return state, dict(d_metrics, **g_metrics)

    def _global_module(self):
        gen = self.generator
        return GlobalGenerator(gen.out_channels, 2 * gen.features, gen.global_downsamples, gen.global_blocks, gen.norm)

    def _global_loss(self, p_global, d_params, s_low, y_low):
        fake = self._global_module().apply({"params": p_global}, s_low)[0]
        real_f = jax.lax.stop_gradient(self.features(d_params, s_low, y_low, 1))
        fake_f = self.features(d_params, s_low, fake, 1)
        adv = multiscale_lsgan_generator_loss(fake_f)
        fm = feature_matching_loss(real_f, fake_f)
        total = adv + self.fm_weight * fm
        return jnp.mean(total), (dict(g_loss=jnp.mean(total), g_adv=jnp.mean(adv), g_fm=jnp.mean(fm)), fake)

    def train_step(self, state, batch, rng):
        del rng      # pix2pixHD's generator has no noise
        s, y = self.prepare(batch)
        if self.global_steps == 0:
            return self._phase_step(state, s, y, True)
        return jax.lax.cond(state.step < self.global_steps, lambda st: self._phase_step(st, s, y, False),
                            lambda st: self._phase_step(st, s, y, True), state)

    # -- evaluation ----------------------------------------------------------------------------------------------
    def translate(self, state, batch, rng=None, direction="AB"):
        """G(label map, instance map) in [0, 1] at full resolution. With model.eval_generator='global' the
        global generator G1 alone: its output on the x2-downsampled input (the resolution it is trained at),
        bilinearly upsampled x2 to the label map's size (the "G1 only" ablation of the coarse-to-fine design)."""
        if direction != "AB":
            raise ValueError(f"pix2pixhd translates one way (direction 'AB'), got {direction!r}")
        s = label_input(batch[self.label_key], batch[self.instance_key], self.num_classes)
        if self.eval_generator == "global":
            low = self._global_module().apply({"params": state.eval_params()["global"]}, downsample(s))[0]
            return to01(jax.image.resize(low, low.shape[:1] + s.shape[1:3] + low.shape[3:], method="linear"))
        return to01(self.generate(state.eval_params(), s))

    def eval_step(self, state, batch, rng):
        """Per test scene: L1 of G(s) to the true scene in [0, 1] units, and G's LSGAN and FM losses."""
        s, y = self.prepare(batch)
        p = state.eval_params()
        fake = self.generate(p, s)
        real_f, fake_f = self.features(p["discriminator"], s, y), self.features(p["discriminator"], s, fake)
        return dict(l1=losses.l1_distance(to01(fake), to01(y)), g_adv=multiscale_lsgan_generator_loss(fake_f),
                    g_fm=feature_matching_loss(real_f, fake_f))

    def _grids(self, state, label, instance, y):
        batch = {self.label_key: label, self.instance_key: instance}
        colours = jnp.asarray(np.random.default_rng(0).uniform(size=(self.num_classes, 3)), jnp.float32)
        rows = [colours[label], jnp.tile(instance_boundaries(instance)[..., None], (1, 1, 1, 3)),
                self.translate(state, batch), pp.scale01(y, self.tgt_levels)]
        return {"scenes": self._grid_rows(rows)}

    def visualize(self, state, rng):
        """Rows: 8 fixed test label maps (a colour per class), their instance boundaries, G(s), the real scene."""
        del rng
        return self._visualize(state, *(self._arrays(self.config.dataset, k, 8)
                                        for k in (self.label_key, self.instance_key, self.target)))


# -- the FCN-score analogue -----------------------------------------------------------------------------------

class PixelClassifier(nn.Module):
    """Per-pixel classifier of scenes: three 3x3 convolutions (ReLU) and a 1x1 convolution to class logits."""

    num_classes: int
    widths: tuple = (16, 16, 16)

    @nn.compact
    def __call__(self, x01):
        h = x01
        for w in self.widths:
            h = nn.relu(nn.Conv(w, (3, 3))(h))
        return nn.Conv(self.num_classes, (1, 1))(h)


@functools.lru_cache(maxsize=4)
def pixel_classifier(dataset: str, image: str = "x", label: str = "label", steps: int = 300, batch_size: int = 16,
                     seed: int = 0, data_dir=None):
    """(module, params) of a `PixelClassifier` trained (Adam 1e-3, `steps` minibatches, deterministic for a
    seed) on the real train scenes of `dataset`; stored once per machine under the classifier cache."""
    import os

    import flax.serialization

    from gen_jax import data as data_lib

    info = data_lib.dataset_info(dataset, data_dir=data_dir)
    module = PixelClassifier(int(info.features[label].num_classes))
    x_shape = tuple(info.features[image].shape)
    template = module.init(jax.random.PRNGKey(seed), jnp.zeros((1,) + x_shape))["params"]
    path = os.path.join(classifier_cache_dir(),
                        f"pixel-seed{seed}-steps{steps}x{batch_size}-{dataset}-{info.version}-{image}-{label}.msgpack")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return module, flax.serialization.from_bytes(template, f.read())
    a = data_lib.load_arrays(dataset, "train", data_dir=data_dir, features=(image, label))
    x = pp.scale01(a[image], info.features[image].num_levels)
    y = jnp.asarray(a[label], jnp.int32)
    tx = optax.adam(1e-3)

    @jax.jit
    def fit(params, key):
        def body(carry, k):
            p, o = carry
            idx = jax.random.randint(k, (batch_size,), 0, x.shape[0])
            g = jax.grad(lambda q: optax.softmax_cross_entropy_with_integer_labels(
                module.apply({"params": q}, x[idx]), y[idx]).mean())(p)
            u, o = tx.update(g, o, p)
            return (optax.apply_updates(p, u), o), None

        return jax.lax.scan(body, (params, tx.init(params)), jax.random.split(key, steps))[0][0]

    params = jax.device_get(fit(template, jax.random.PRNGKey(seed + 1)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(flax.serialization.to_bytes(params))
    os.replace(tmp, path)
    return module, params


def segmentation_scores(confusion):
    """{'pixel_accuracy', 'class_accuracy', 'mean_iou'} of a confusion matrix [true class, predicted class]
    (classes absent from the truth are left out of the class means, as the FCN-score protocol does)."""
    c = np.asarray(confusion, np.float64)
    tp, true, pred = np.diag(c), c.sum(1), c.sum(0)
    present = true > 0
    return {"pixel_accuracy": float(tp.sum() / max(c.sum(), 1.0)),
            "class_accuracy": float(np.mean(tp[present] / true[present])),
            "mean_iou": float(np.mean(tp[present] / (true + pred - tp)[present]))}


@register_evaluator("scene_fcn")
class SceneFCNEval(Evaluator):
    """The FCN-score analogue on a split of label / instance / image triples: the library's per-pixel
    classifier (trained on the real train scenes) labels G(s) and the real scenes; yields pixel_accuracy,
    class_accuracy, mean_iou (and real_* for the real scenes) and l1. Settings: classifier_steps (300),
    batch_size."""

    def known_settings(self):
        return ("classifier_steps", "batch_size")

    def run(self, state, step):
        from gen_jax import data as data_lib

        exp = self.trainer.experiment
        keys = (exp.label_key, exp.instance_key, exp.target)
        a = data_lib.load_arrays(self.dataset, self.split, data_dir=self.config.get("data_dir"), features=keys)
        module, params = pixel_classifier(self.dataset, exp.target, exp.label_key,
                                          int(self.settings.get("classifier_steps", 300)),
                                          data_dir=self.config.get("data_dir"))
        k = exp.num_classes

        @jax.jit
        def scores(state, label, instance, y):
            fake = exp.translate(state, {exp.label_key: label, exp.instance_key: instance})
            real = pp.scale01(y, exp.tgt_levels)
            conf = lambda img: jnp.zeros((k, k), jnp.int32).at[label.reshape(-1), jnp.argmax(
                module.apply({"params": params}, img), -1).reshape(-1)].add(1)
            return conf(fake), conf(real), jnp.sum(losses.l1_distance(fake, real))

        host = jax.device_get(state)
        bs = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        cf, cr, l1 = np.zeros((k, k)), np.zeros((k, k)), 0.0
        n = len(a[exp.label_key])
        for i in range(0, n, bs):
            f, r, d = scores(host, *(a[key][i:i + bs] for key in keys))
            cf, cr, l1 = cf + np.asarray(f), cr + np.asarray(r), l1 + float(d)
        out = segmentation_scores(cf)
        out.update({f"real_{name}": v for name, v in segmentation_scores(cr).items()})
        out["l1"] = l1 / n
        return sorted(out.items())

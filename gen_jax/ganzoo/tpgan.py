"""TP-GAN, the Two-Pathway GAN (Huang, Zhang, Li & He 2017, "Beyond Face Rotation: Global and Local Perception
GAN for Photorealistic and Identity Preserving Frontal View Synthesis"), as an engine experiment
(`config.experiment = "tpgan"`), on the `rotated_digits` dataset: a rotated digit (the "profile") -> its
upright digit (the "frontal view").

**Generator** (`TPGANGenerator`, Sec. 3.1): two pathways on the input image x.
* The GLOBAL pathway is an encoder-decoder on the whole image (stride-2 convolutions down to a base of
  H / 2^n, n = `gen_jax.gan.models.dcgan_num_upsamples(H, 2)`; transposed convolutions back up, with skip
  connections from the encoder), emitting an image at every decoder scale (H / 2^n, ..., H / 2): the
  paper's 32x32 and 64x64 outputs, fed on to the next scale as in the paper.
* The LOCAL pathways are one small encoder-decoder per landmark (separate weights), each on the P x P patch
  of x centred on its landmark; their feature maps are placed back at their landmark positions on an empty
  H x W canvas (where patches overlap the maximum is taken, the paper's max-fusion of its four local
  pathways; a pixel outside every patch holds 0 and does not depend on the local pathways at all).
* Fusion: [global decoder features at H, local canvas, x] -> two 3x3 convolutions -> tanh: the frontal view.
Landmarks are FIXED positions (the paper uses the detected eye, nose and mouth centres of the profile; a
digit has none): by default the four quadrant centres (H/4, W/4), (H/4, 3W/4), (3H/4, W/4), (3H/4, 3W/4),
`model.landmarks` to set them, `model.patch_size` P (even; default H * 3 / 7 rounded to even: 12 at 28).

**Discriminator**: the GAN family's `DCGANDiscriminator` on frontal views (real: the upright targets).

**Losses** (Sec. 3.3, Eq. 7): L_syn = L_pixel + lambda_1 L_sym + lambda_2 L_adv + lambda_3 L_ip + lambda_4 L_tv,
the paper's weights lambda = 0.3, 1e-3, 3e-3, 1e-4 (`model.sym_weight`, `adv_weight`, `ip_weight`,
`tv_weight`), each a pure per-example function of this module:
* `multiscale_l1` (Eq. 2): L1 to the frontal target, mean over pixels, averaged over the output scales
  (the target average-pooled to each; `model.pixel_scales` = how many of the largest scales, default all);
* `symmetry_loss` (Eq. 3): L1 between the output's left half and its mirrored right half;
* the adversarial loss -log D(G(x)) (Eq. 4; `gen_jax.gan.losses.generator_nonsaturating_loss`; D trains
  on `discriminator_minimax_loss`);
* `identity_loss` (Eq. 5): L1 between a recogniser's features of the output and of the target, mean over
  each of its last two layers (Light-CNN's pooling and fully connected layers in the paper; here the
  128-unit penultimate layer and the logits of a digit classifier). No pretrained recogniser is available
  offline: the recogniser is the library's `ImageClassifier` trained on the TARGET domain (upright mnist5k
  digits, train split, seed `model.recogniser_seed` = 1), frozen in `state.extra['f']` (checkpointed, never
  updated), a different network from the seed-0 classifier that scores the results;
* `total_variation_l1` (Eq. 6): sum of the absolute horizontal and vertical differences.

**Symmetry weight on digits**: a face's frontal view is mirror-symmetric, a digit's is not (2, 3, 4, 5, 6,
7, 9 change under a left-right flip; the symmetry loss of the upright mnist5k test digits is far from 0), so
the digits config sets `sym_weight = 0`; the loss is still computed and logged.

**Measurement** (the paper's Sec. 4.2 protocol, recognition of the frontalised images per pose): the
`frontalisation` evaluator (registered here) scores with the library's digit classifier (MLP trained on
mnist5k's train split, seed 0) the rotated inputs, their frontal views and the upright targets, per rotation
angle of the dataset (`angle_degrees`) and overall.

config.model: g_features, local_features, d_features, d_norm, landmarks, patch_size, pixel_scales,
sym_weight, adv_weight, ip_weight, tv_weight, recogniser_arch, recogniser_steps, recogniser_seed,
recogniser_dataset ('mnist5k'), feature_input ('x'), feature_target ('target').
"""
from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.data import preprocess as pp
from gen_jax.gan import losses as gan_losses
from gen_jax.gan.models import DCGANDiscriminator, dcgan_num_upsamples
from gen_jax.ganzoo.dtn import _apply, source_classifier

# ----------------------------------------------------------------------------------------------------------
# Losses (Huang et al. 2017, Sec. 3.3), per example: [B, ...] in, [B] out.
# ----------------------------------------------------------------------------------------------------------

def _check_images(name, *images):
    for a in images:
        if a.ndim != 4:
            raise ValueError(f"{name}: expected images [B, H, W, C], got shape {a.shape}")


def avg_downscale(images, size: int):
    """[B, H, W, C] -> [B, size, size, C] by averaging non-overlapping (H / size)^2 blocks."""
    _check_images("avg_downscale", images)
    b, h, w, c = images.shape
    if h % size or w % size or h // size != w // size:
        raise ValueError(f"avg_downscale: {h}x{w} images cannot be averaged down to {size}x{size}")
    f = h // size
    return images.reshape(b, size, f, size, f, c).mean((2, 4))


def multiscale_l1(outputs: Sequence, target):
    """L_pixel (Eq. 2): (1/S) sum_s mean_{x,y,c} |I_s^pred - I_s^gt| over the S outputs, I_s^gt the target
    average-pooled to output s's size. outputs: [B, h_s, h_s, C] each; target: [B, H, H, C]. Returns [B]."""
    if not outputs:
        raise ValueError("multiscale_l1: give at least one output")
    terms = []
    for o in outputs:
        _check_images("multiscale_l1", o, target)
        t = target if o.shape[1] == target.shape[1] else avg_downscale(target, o.shape[1])
        if t.shape != o.shape:
            raise ValueError(f"multiscale_l1: output {o.shape} does not match the target {target.shape}")
        terms.append(jnp.mean(jnp.abs(o - t), (1, 2, 3)))
    return sum(terms) / len(terms)


def symmetry_loss(images):
    """L_sym (Eq. 3): 1/(W/2 H C) sum_{x < W/2, y, c} |I_{y,x,c} - I_{y,W-1-x,c}|, the L1 distance between the
    image's left half and its mirrored right half; 0 exactly for a left-right mirror-symmetric image. [B]."""
    _check_images("symmetry_loss", images)
    w = images.shape[2]
    half = w // 2
    return jnp.mean(jnp.abs(images[:, :, :half] - images[:, :, ::-1][:, :, :half]), (1, 2, 3))


def identity_loss(features_pred: Sequence, features_target: Sequence):
    """L_ip (Eq. 5): sum_i mean_j |F_i(I^pred)_j - F_i(I^gt)_j| over the recogniser's layers i (each [B, ...]).
    Returns [B]."""
    if len(features_pred) != len(features_target) or not features_pred:
        raise ValueError("identity_loss: give the same non-empty list of layers for the output and the target")
    out = 0.0
    for a, b in zip(features_pred, features_target):
        if a.shape != b.shape:
            raise ValueError(f"identity_loss: layer shapes differ, {a.shape} and {b.shape}")
        out = out + jnp.mean(jnp.abs(a - b).reshape(a.shape[0], -1), -1)
    return out


def total_variation_l1(images):
    """L_tv (Eq. 6): sum_{c,x,y} |I_{y,x+1,c} - I_{y,x,c}| + |I_{y+1,x,c} - I_{y,x,c}| (the anisotropic L1 total
    variation; DTN's `losses.total_variation` is the isotropic one). [B]."""
    _check_images("total_variation_l1", images)
    dx = jnp.abs(images[:, :, 1:] - images[:, :, :-1]).reshape(images.shape[0], -1).sum(-1)
    dy = jnp.abs(images[:, 1:] - images[:, :-1]).reshape(images.shape[0], -1).sum(-1)
    return dx + dy


# ----------------------------------------------------------------------------------------------------------
# The two-pathway generator.
# ----------------------------------------------------------------------------------------------------------

def quadrant_landmarks(size: int):
    """The four quadrant centres (row, column) of a size x size image, rounded down."""
    a, b = size // 4, (3 * size) // 4
    return ((a, a), (a, b), (b, a), (b, b))


def patch_corners(landmarks, patch_size: int, size: int):
    """Top-left (row, column) of each P x P patch centred on its landmark (rows r - P/2 .. r + P/2 - 1);
    a patch that leaves the image is an error naming the landmark."""
    if patch_size < 2 or patch_size % 2:
        raise ValueError(f"TP-GAN: patch_size must be even and >= 2, got {patch_size}")
    out = []
    for r, c in landmarks:
        r0, c0 = int(r) - patch_size // 2, int(c) - patch_size // 2
        if r0 < 0 or c0 < 0 or r0 + patch_size > size or c0 + patch_size > size:
            raise ValueError(f"TP-GAN: the {patch_size}x{patch_size} patch at landmark {(r, c)} leaves the "
                             f"{size}x{size} image")
        out.append((r0, c0))
    return tuple(out)


def patch_mask(landmarks, patch_size: int, size: int) -> np.ndarray:
    """bool [size, size]: the pixels inside at least one landmark patch."""
    m = np.zeros((size, size), bool)
    for r0, c0 in patch_corners(landmarks, patch_size, size):
        m[r0:r0 + patch_size, c0:c0 + patch_size] = True
    return m


class _LocalPathway(nn.Module):
    """One landmark's encoder-decoder: P x P patch -> P x P x L features (one stride-2 stage, skip)."""
    features: int

    @nn.compact
    def __call__(self, p):
        e0 = nn.leaky_relu(nn.Conv(self.features, (3, 3))(p), 0.2)
        e1 = nn.leaky_relu(nn.Conv(2 * self.features, (4, 4), strides=(2, 2))(e0), 0.2)
        d0 = nn.relu(nn.ConvTranspose(self.features, (4, 4), strides=(2, 2), padding="SAME")(e1))
        return nn.relu(nn.Conv(self.features, (3, 3))(jnp.concatenate([d0, e0], -1)))


class TPGANGenerator(nn.Module):
    """x [B, H, H, C] in [-1, 1] -> {'image': [B, H, H, C] tanh, 'scales': (coarse outputs, smallest first),
    'local': [B, H, H, L] the local pathways' features placed at their landmarks}."""
    image_size: int = 28
    channels: int = 1
    features: int = 32
    local_features: int = 16
    landmarks: tuple | None = None
    patch_size: int = 12

    def setup_landmarks(self):
        return tuple(self.landmarks) if self.landmarks else quadrant_landmarks(self.image_size)

    @nn.compact
    def __call__(self, x, train: bool = True):
        if x.ndim != 4 or x.shape[1] != self.image_size or x.shape[2] != self.image_size:
            raise ValueError(f"TPGANGenerator: expected images [B, {self.image_size}, {self.image_size}, C], "
                             f"got shape {x.shape}")
        size = self.image_size
        marks = self.setup_landmarks()
        corners = patch_corners(marks, self.patch_size, size)
        # -- local pathways, placed back on the canvas (max where patches overlap, 0 outside every patch)
        p = self.patch_size
        placed, masks = [], []
        for k, (r0, c0) in enumerate(corners):
            f = _LocalPathway(self.local_features, name=f"local_{k}")(x[:, r0:r0 + p, c0:c0 + p])
            pad = ((0, 0), (r0, size - r0 - p), (c0, size - c0 - p), (0, 0))
            placed.append(jnp.pad(f, pad))
            m = np.zeros((1, size, size, 1), bool)
            m[:, r0:r0 + p, c0:c0 + p] = True
            masks.append(m)
        masks = np.stack(masks)
        stacked = jnp.where(masks, jnp.stack(placed), -jnp.inf)
        local = jnp.where(masks.any(0), jnp.max(stacked, 0), 0.0)
        # -- global pathway: encoder
        n = dcgan_num_upsamples(size, 2)
        w = self.features
        skips = [nn.leaky_relu(nn.Conv(w, (3, 3), name="enc_0")(x), 0.2)]
        h = skips[0]
        for i in range(n):
            h = nn.leaky_relu(nn.Conv(w * 2 ** (i + 1), (4, 4), strides=(2, 2), name=f"enc_{i + 1}")(h), 0.2)
            skips.append(h)
        # -- decoder with an image at every coarse scale
        scales = []
        for i in range(n, 0, -1):
            img = jnp.tanh(nn.Conv(self.channels, (3, 3), name=f"out_{i}")(h))
            scales.append(img)
            h = jnp.concatenate([h, img], -1)
            h = nn.relu(nn.ConvTranspose(w * 2 ** (i - 1), (4, 4), strides=(2, 2), padding="SAME",
                                         name=f"dec_{i}")(h))
            h = nn.relu(nn.Conv(w * 2 ** (i - 1), (3, 3), name=f"dec_{i}_conv")(
                jnp.concatenate([h, skips[i - 1]], -1)))
        # -- fusion of the two pathways
        h = jnp.concatenate([h, local, x], -1)
        h = nn.relu(nn.Conv(w, (3, 3), name="fuse_0")(h))
        image = jnp.tanh(nn.Conv(self.channels, (3, 3), name="fuse_1")(h))
        return {"image": image, "scales": tuple(scales), "local": local}


# ----------------------------------------------------------------------------------------------------------
# The experiment.
# ----------------------------------------------------------------------------------------------------------

@register("tpgan")
class TPGANExperiment(Experiment):
    """TP-GAN frontalisation (see the module docstring)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.fx, self.ft = m.get("feature_input", "x"), m.get("feature_target", "target")
        for f in (self.fx, self.ft):
            if f not in info.features or not info.features[f].num_levels:
                raise ValueError(f"tpgan: {f!r} must be an image feature of {info.name!r} ({', '.join(info.features)})")
        shape = tuple(info.features[self.fx].shape)
        if tuple(info.features[self.ft].shape) != shape or shape[0] != shape[1]:
            raise ValueError(f"tpgan: input and target images must be square and of one shape, got {shape} and "
                             f"{tuple(info.features[self.ft].shape)}")
        self.shape, self.levels = shape, info.features[self.fx].num_levels
        size = shape[0]
        marks = m.get("landmarks", None)
        marks = tuple(tuple(int(v) for v in lm) for lm in marks) if marks else quadrant_landmarks(size)
        p = int(m.get("patch_size", 0) or 2 * round(size * 3 / 14))
        patch_corners(marks, p, size)                                   # fails early on a bad patch
        self.g = TPGANGenerator(image_size=size, channels=shape[2], features=int(m.get("g_features", 32)),
                                local_features=int(m.get("local_features", 16)), landmarks=marks, patch_size=p)
        self.d = DCGANDiscriminator(image_size=size, features=int(m.get("d_features", 32)),
                                    norm=m.get("d_norm", "layer"))
        n_scales = dcgan_num_upsamples(size, 2) + 1
        self.pixel_scales = int(m.get("pixel_scales", n_scales))
        if not 1 <= self.pixel_scales <= n_scales:
            raise ValueError(f"tpgan: model.pixel_scales must be in 1..{n_scales} for {size}x{size} images, got "
                             f"{self.pixel_scales}")
        self.w = {k: float(m.get(f"{k}_weight", v)) for k, v in
                  dict(sym=0.3, adv=1e-3, ip=3e-3, tv=1e-4).items()}
        self.clf = source_classifier(m.get("recogniser_dataset", "mnist5k"), "train",
                                     m.get("recogniser_arch", "mlp"), int(m.get("recogniser_steps", 1500)),
                                     config.get("data_dir"), int(m.get("recogniser_seed", 1)))
        if tuple(self.clf.shape) != shape:
            raise ValueError(f"tpgan: the recogniser reads {self.clf.shape} images, the frontal views are {shape}")

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        x = jnp.zeros((2,) + self.shape)
        gp = self.g.init(kg, x, train=False)["params"]
        dv = self.d.init(kd, x, train=False)
        dp, ds = dv["params"], {k: v for k, v in dv.items() if k != "params"}
        tx = {"generator": make_optimizer(self.config.optim),
              "discriminator": make_optimizer(self.config.d_optim if self.config.get("d_optim") else self.config.optim)}
        return TrainState.create(params={"generator": gp, "discriminator": dp}, tx=tx, rng=rng,
                                 model_state={"generator": {}, "discriminator": ds},
                                 extra={"f": jax.tree.map(lambda a: jnp.array(a, copy=True), self.clf.params)},
                                 ema_decay=self.config.get("ema_decay") or None)

    def _inputs(self, batch):
        return pp.center_pm1(batch[self.fx], self.levels), pp.center_pm1(batch[self.ft], self.levels)

    def recognise(self, f_params, images_pm1):
        """The recogniser's last two layers (penultimate features, logits) of images in [-1, 1]."""
        logits, h = self.clf.module.apply({"params": f_params}, (images_pm1 + 1.0) / 2.0)
        return [h, logits]

    def generator_terms(self, g_params, f_params, x, t):
        """Per-example L_pixel, L_sym, L_ip, L_tv and G's outputs."""
        out = self.g.apply({"params": g_params}, x)
        outputs = (list(out["scales"]) + [out["image"]])[-self.pixel_scales:]
        y = out["image"]
        terms = dict(pixel=multiscale_l1(outputs, t), sym=symmetry_loss(y),
                     ip=identity_loss(self.recognise(f_params, y),
                                      [jax.lax.stop_gradient(a) for a in self.recognise(f_params, t)]),
                     tv=total_variation_l1(y))
        return terms, out

    def train_step(self, state, batch, rng):
        x, t = self._inputs(batch)
        f_params = state.extra["f"]
        fake = jax.lax.stop_gradient(self.g.apply({"params": state.params["generator"]}, x)["image"])
        b = x.shape[0]

        def d_loss(dp):
            logits, st = _apply(self.d, dp, state.model_state["discriminator"], True, jnp.concatenate([t, fake]))
            return jnp.mean(gan_losses.discriminator_minimax_loss(logits[:b], logits[b:])), st

        (dl, d_state), d_grads = jax.value_and_grad(d_loss, has_aux=True)(state.params["discriminator"])
        state = state.apply_gradients(d_grads, player="discriminator", model_state=d_state)

        def g_loss(gp):
            terms, out = self.generator_terms(gp, f_params, x, t)
            logits, _ = _apply(self.d, state.params["discriminator"], state.model_state["discriminator"], False,
                               out["image"])
            adv = gan_losses.generator_nonsaturating_loss(logits)
            total = terms["pixel"] + sum(self.w[k] * terms[k] for k in ("sym", "ip", "tv")) + self.w["adv"] * adv
            metrics = {k: jnp.mean(v) for k, v in terms.items()}
            metrics["adv"] = jnp.mean(adv)
            return jnp.mean(total), metrics

        (gl, g_metrics), g_grads = jax.value_and_grad(g_loss, has_aux=True)(state.params["generator"])
        state = state.apply_gradients(g_grads, player="generator")
        return state, dict(g_metrics, d_loss=dl, g_loss=gl, d_grad_norm=optax.global_norm(d_grads),
                           g_grad_norm=optax.global_norm(g_grads))

    # -- evaluation hooks ---------------------------------------------------------------------------------
    def frontalise(self, state, x_levels):
        """G(x) in [0, 1] for images of the input feature (integer levels)."""
        x = pp.center_pm1(x_levels, self.levels)
        return (self.g.apply({"params": state.eval_params()["generator"]}, x)["image"] + 1.0) / 2.0

    def eval_step(self, state, batch, rng):
        """Per test example: the L1 of the frontal view to the target (in [0, 1]), and L_sym / L_tv of it."""
        t = pp.center_pm1(batch[self.ft], self.levels)
        y = 2.0 * self.frontalise(state, batch[self.fx]) - 1.0
        return dict(l1=jnp.mean(jnp.abs(y - t), (1, 2, 3)) / 2.0, sym=symmetry_loss(y), tv=total_variation_l1(y))

    def visualize(self, state, rng):
        batch = self.example_batch(16)
        x = pp.scale01(batch[self.fx], self.levels)
        t = pp.scale01(batch[self.ft], self.levels)
        y = self.frontalise(state, batch[self.fx])
        return {"frontalised": jnp.concatenate([x, y, t])}


@register_evaluator("frontalisation")
class Frontalisation(Evaluator):
    """Recognition of frontalised images per pose (Huang et al. 2017, Sec. 4.2, on rotated digits).

    A digit classifier (`classifier`: its dataset, default 'mnist5k'; `classifier_arch` 'mlp'; trained on the
    real upright train images, seed 0, by `gen_jax.translation.steps._classifier`) labels the rotated inputs,
    their frontal views G(x) and the upright targets of `split`; yields per angle of feature `angle`
    ('angle_degrees') `rotated_acc/<angle>`, `frontal_acc/<angle>`, `upright_acc/<angle>` and the three
    overall accuracies. `num_examples` (0 = the whole split) are the first of the split (ordered by mnist5k
    row, then angle: every angle equally often in a multiple of 9)."""

    def known_settings(self):
        return ("num_examples", "batch_size", "classifier", "classifier_arch", "angle")

    def run(self, state, step):
        from gen_jax import data as data_lib
        from gen_jax.translation.steps import _classifier

        exp = self.trainer.experiment
        if not hasattr(exp, "frontalise"):
            raise ValueError(f"evaluator {self.prefix!r} (frontalisation) needs a TP-GAN experiment, got "
                             f"{type(exp).__name__}")
        ddir = self.config.get("data_dir")
        clf = _classifier(self.settings.get("classifier", "mnist5k"), ddir,
                          self.settings.get("classifier_arch", "mlp"))
        angle = self.settings.get("angle", "angle_degrees")
        arr = data_lib.load_arrays(self.dataset, self.split, data_dir=ddir, features=(exp.fx, exp.ft, "label", angle))
        num = int(self.settings.get("num_examples", 0) or len(arr["label"]))
        arr = {k: np.asarray(v)[:num] for k, v in arr.items()}
        bs = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        if getattr(self, "_fn", None) is None:
            self._fn = jax.jit(exp.frontalise)
        fn = self._fn
        y = np.concatenate([np.asarray(fn(state, jnp.asarray(arr[exp.fx][s:s + bs]))) for s in range(0, num, bs)])
        scale = 1.0 / (exp.levels - 1)
        hits = {"rotated": np.asarray(clf.predict(arr[exp.fx].astype(np.float32) * scale)) == arr["label"],
                "frontal": np.asarray(clf.predict(y)) == arr["label"],
                "upright": np.asarray(clf.predict(arr[exp.ft].astype(np.float32) * scale)) == arr["label"]}
        ang = np.round(arr[angle]).astype(int)
        out = {f"{k}_acc": float(v.mean()) for k, v in hits.items()}
        for a in np.unique(ang):
            for k, v in hits.items():
                out[f"{k}_acc/{a:+d}"] = float(v[ang == a].mean())
        return out.items()

"""SRGAN and its SRResNet baseline (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network"), x4 super-resolution on `photo_patches` / `photo_whole`.

Networks (Fig. 4 of the paper, widths and depths by config):
  * `SRResNet`: conv 9x9 k64 + PReLU; B residual blocks (conv 3x3 k64, BN, PReLU, conv 3x3 k64, BN, + input);
    conv 3x3 k64 + BN added to the first layer's output (the long skip); log2(r) upsampling blocks (conv 3x3
    k256, sub-pixel shuffle x2 (`gen_jax.nn.subpixel.pixel_shuffle`), PReLU); conv 9x9 to 3 channels, tanh
    (HR images in [-1, 1], the paper's scaling).
  * `SRDiscriminator`: conv 3x3 k64 s1 + LeakyReLU(0.2), then pairs (k s2, 2k s1) of conv 3x3 + BN + LeakyReLU
    (the paper's k64 s2, k128 s1, k128 s2, k256 s1, k256 s2, k512 s1, k512 s2: `num_stages` = 4 widths),
    dense 1024 + LeakyReLU, dense 1: the logit of the sigmoid D.

Losses (per example, Eq. 3-6; weights applied here by the experiment):
    l_MSE  = mean_pixels (I_HR - G(I_LR))^2                         (`content_mse`, on [-1, 1] images)
    l_VGG  = mean_{x, y, c} (phi(I_HR) - phi(G(I_LR)))^2            (`feature_content_loss`)
    l_Gen  = -log D(G(I_LR))                                         (the non-saturating loss of gan.losses)
    l_SR   = content + 1e-3 l_Gen                                    (`srgan_generator_loss`)
phi: NO PRETRAINED VGG IS AVAILABLE OFFLINE. The "VGG" feature space here is that of a CNN the library trains
(`gen_jax.metrics.classifier.ImageClassifier`, arch 'cnn') to tell which training photo a 32x32 HR patch of
`photo_patches` comes from: phi = ReLU of its second 3x3 convolution (after one 2x2 max-pool, the place of
the paper's VGG22), applied convolutionally, so whole images have feature maps too (`PhotoFeatures`). The
feature loss is multiplied by model.feature_scale (the paper rescales VGG features by 1/12.75, i.e. the loss
by ~0.006; our features are of order 1, so 1.0 is the default).

Training (`srgan` experiment): steps < model.pretrain_steps train G on l_MSE alone (the paper initialises
SRGAN from the MSE-trained SRResNet "to avoid undesired local optima"); from then on G minimises
content + adversarial_weight l_Gen and D minimises -log D(I_HR) - log(1 - D(G(I_LR))), D updated first each
step. model.adversarial_weight = 0 is the SRResNet baseline (D never trained); model.content 'mse' or
'feature' chooses the content loss (SRGAN-MSE / SRGAN-VGG of Table 1). BatchNorm uses batch statistics in
training and running averages (momentum 0.9) at test time.

The `super_resolution` evaluator scores whole held-out images (`photo_whole`, x4) against the HR truth:
PSNR and SSIM on the BT.601 Y channel with `scale` pixels cropped at each border (the SR literature's
convention; `sr_scores`), the SR output rounded to 8 bits first, and the Frechet distance between the
feature vectors of every position of the SR and the HR images in the features of a SECOND library-trained
network (`PhotoFeatures` of seed 1, not the one G was trained against); the same for bicubic upsampling
(the floor: `bicubic_upsample`, Keys' cubic a = -0.5).
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
from gen_jax.gan import losses as gan_losses
from gen_jax.metrics import image as image_metrics
from gen_jax.nn.subpixel import pixel_shuffle
from gen_jax.translation import losses
from gen_jax.translation.steps import _levels as _feature_levels
from gen_jax.translation.steps import (
    _Translation,
    classifier_cache_dir,
    make_translation_optimizer,
)

CONTENT = ("mse", "feature")


# -- networks -------------------------------------------------------------------------------------------------

class _Residual(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train):
        bn = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
        h = nn.Conv(self.features, (3, 3), padding="SAME", use_bias=False)(x)
        h = nn.PReLU(negative_slope_init=0.25)(bn()(h))
        h = nn.Conv(self.features, (3, 3), padding="SAME", use_bias=False)(h)
        return x + bn()(h)


class SRResNet(nn.Module):
    """The SRGAN generator (see the module docstring): LR [B, h, w, C] in [-1, 1] -> HR [B, h r, w r, C]."""

    channels: int = 3
    features: int = 64
    num_blocks: int = 16
    scale: int = 4

    @nn.compact
    def __call__(self, x, train: bool = True):
        if x.ndim != 4:
            raise ValueError(f"SRResNet expects LR images [B, h, w, C], got shape {x.shape}")
        ups = int(np.log2(self.scale)) if self.scale >= 1 else -1
        if self.scale < 2 or 2 ** ups != self.scale:
            raise ValueError(f"SRResNet: scale must be a power of 2 >= 2 (x2 sub-pixel layers), got {self.scale}")
        f = self.features
        h = nn.PReLU(negative_slope_init=0.25)(nn.Conv(f, (9, 9), padding="SAME", name="conv_in")(x))
        skip = h
        for b in range(self.num_blocks):
            h = _Residual(f, name=f"block{b}")(h, train)
        h = nn.Conv(f, (3, 3), padding="SAME", use_bias=False, name="conv_mid")(h)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="bn_mid")(h) + skip
        for u in range(ups):
            h = pixel_shuffle(nn.Conv(4 * f, (3, 3), padding="SAME", name=f"up{u}")(h), 2)
            h = nn.PReLU(negative_slope_init=0.25)(h)
        return jnp.tanh(nn.Conv(self.channels, (9, 9), padding="SAME", name="conv_out")(h))


class SRDiscriminator(nn.Module):
    """The SRGAN discriminator (see the module docstring): HR images [B, H, W, C] -> logits [B]."""

    features: int = 64
    num_stages: int = 4
    dense: int = 1024

    @nn.compact
    def __call__(self, x, train: bool = True):
        if x.ndim != 4:
            raise ValueError(f"SRDiscriminator expects images [B, H, W, C], got shape {x.shape}")
        if x.shape[1] % 2 ** self.num_stages or x.shape[2] % 2 ** self.num_stages:
            raise ValueError(f"SRDiscriminator: image size {x.shape[1:3]} is not a multiple of 2^num_stages"
                             f"={2 ** self.num_stages}")
        h = nn.leaky_relu(nn.Conv(self.features, (3, 3), padding="SAME")(x), 0.2)
        convs = [(self.features, 2)] + [(self.features * 2 ** s, st) for s in range(1, self.num_stages)
                                        for st in (1, 2)]
        for k, s in convs:
            h = nn.Conv(k, (3, 3), strides=(s, s), padding="SAME", use_bias=False)(h)
            h = nn.leaky_relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h), 0.2)
        h = nn.leaky_relu(nn.Dense(self.dense)(h.reshape(h.shape[0], -1)), 0.2)
        return nn.Dense(1)(h)[:, 0]


# -- the library-trained feature space ------------------------------------------------------------------------

class PhotoFeatures:
    """phi: the ReLU of the second convolution of a `gen_jax.metrics.classifier` CNN trained (seed `seed`) to
    name the training photo of each `photo_patches` HR crop; images [B, H, W, 3] in [0, 1] of any size
    (H, W even) -> [B, H / 2, W / 2, 64]. Trained once per machine and cached (see `_photo_classifier`)."""

    def __init__(self, params):
        self.params = params

    @staticmethod
    def apply(params, x01):
        h = nn.relu(nn.Conv(params["Conv_0"]["kernel"].shape[-1], (3, 3)).apply({"params": params["Conv_0"]}, x01))
        h = nn.max_pool(h, (2, 2), (2, 2))
        return nn.relu(nn.Conv(params["Conv_1"]["kernel"].shape[-1], (3, 3)).apply({"params": params["Conv_1"]}, h))

    def __call__(self, x01):
        return self.apply(self.params, x01)


@functools.lru_cache(maxsize=8)
def photo_features(seed: int = 0, data_dir=None, steps: int = 400, batch_size: int = 32) -> PhotoFeatures:
    """`PhotoFeatures` of the classifier of `seed` (cached as a file under translation's classifier cache)."""
    import os

    import flax.serialization

    from gen_jax import data as data_lib
    from gen_jax.metrics import classifier as clf_lib

    info = data_lib.dataset_info("photo_patches", data_dir=data_dir)
    path = os.path.join(classifier_cache_dir(), f"cnn-seed{seed}-steps{steps}x{batch_size}-photo_patches-{info.version}-photo.msgpack")
    module = clf_lib._CNN(info.features["photo"].num_classes)
    if os.path.exists(path):
        template = module.init(jax.random.PRNGKey(0), jnp.zeros((1,) + tuple(info.features["hr"].shape)))["params"]
        with open(path, "rb") as f:
            return PhotoFeatures(flax.serialization.from_bytes(template, f.read()))
    clf = clf_lib.ImageClassifier.train("photo_patches", feature="hr", label="photo", arch="cnn", steps=steps,
                                        batch_size=batch_size, seed=seed, data_dir=data_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(flax.serialization.to_bytes(clf.params))
    os.replace(tmp, path)
    return PhotoFeatures(clf.params)


# -- losses ---------------------------------------------------------------------------------------------------

def content_mse(sr, hr):
    """l_MSE (Ledig et al. 2017, Eq. 4): mean over pixels and channels of (I_HR - G(I_LR))^2, per example."""
    return losses.squared_distance(sr, hr)


def feature_content_loss(phi_sr, phi_hr):
    """l_VGG (Ledig et al. 2017, Eq. 5): mean over positions and channels of (phi(I_HR) - phi(G(I_LR)))^2,
    per example ([B, h, w, c] feature maps x2 -> [B])."""
    return losses.squared_distance(phi_sr, phi_hr)


def srgan_generator_loss(content, fake_logits, adversarial_weight: float = 1e-3):
    """l_SR = content + adversarial_weight * (-log D(G(I_LR))) (Eq. 3 and 6; 1e-3 in the paper), per example.
    Returns (total [B], adversarial [B])."""
    adv = gan_losses.generator_nonsaturating_loss(fake_logits)
    return content + adversarial_weight * adv, adv


def srgan_discriminator_loss(real_logits, fake_logits):
    """-log D(I_HR) - log(1 - D(G(I_LR))) per example (Eq. 2, the discriminator's side)."""
    return gan_losses.discriminator_minimax_loss(real_logits, fake_logits)


# -- scores ---------------------------------------------------------------------------------------------------

def bicubic_upsample(lr01, scale: int):
    """Bicubic x`scale` upsampling of [B, h, w, C] images in [0, 1] (Keys' cubic, a = -0.5), clipped."""
    b, h, w, c = lr01.shape
    return jnp.clip(jax.image.resize(lr01, (b, h * scale, w * scale, c), "bicubic"), 0.0, 1.0)


def quantize(x01):
    """Round images in [0, 1] to 8-bit levels (what would be saved), still in [0, 1]."""
    return jnp.round(jnp.clip(x01, 0.0, 1.0) * 255.0) / 255.0


def sr_scores(sr01, hr01, border: int = 4):
    """{'psnr_y', 'ssim_y'} per example: PSNR and SSIM (Gaussian window, sigma 1.5) of the BT.601 Y channel
    of RGB images in [0, 1], `border` pixels cropped on every side."""
    if sr01.shape != hr01.shape:
        raise ValueError(f"sr_scores: SR {sr01.shape} and HR {hr01.shape} differ in shape")
    ys, yh = image_metrics.rgb_to_y(sr01), image_metrics.rgb_to_y(hr01)
    if border:
        ys, yh = ys[:, border:-border, border:-border], yh[:, border:-border, border:-border]
    return {"psnr_y": image_metrics.psnr(ys, yh), "ssim_y": image_metrics.ssim(ys, yh)}


# -- the experiment -------------------------------------------------------------------------------------------

def _levels(info, feature):
    return _feature_levels(info, feature, f"srgan feature {feature!r}")


@register("srgan")
class SRGAN(_Translation):
    """SRGAN / SRResNet on paired (lr, hr) images (see the module docstring)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None:
            raise ValueError("srgan needs config.dataset: a dataset of paired LR / HR images "
                             "(e.g. photo_patches)")
        m = config.model
        self.lr_key, self.hr_key = m.get("lr", "lr"), m.get("hr", "hr")
        self.lr_levels, self.lr_shape = _levels(info, self.lr_key)
        self.hr_levels, self.hr_shape = _levels(info, self.hr_key)
        self.scale = int(m.get("scale", 4))
        if (self.lr_shape[0] * self.scale, self.lr_shape[1] * self.scale) != self.hr_shape[:2]:
            raise ValueError(f"srgan: LR {self.lr_shape} x scale {self.scale} is not HR {self.hr_shape}")
        self.content = m.get("content", "mse")
        if self.content not in CONTENT:
            raise ValueError(f"srgan: model.content must be one of {CONTENT}, got {self.content!r}")
        self.adversarial_weight = float(m.get("adversarial_weight", 1e-3))
        self.feature_scale = float(m.get("feature_scale", 1.0))
        self.pretrain_steps = int(m.get("pretrain_steps", 0))
        if self.adversarial_weight < 0 or self.pretrain_steps < 0:
            raise ValueError(f"srgan: adversarial_weight ({self.adversarial_weight}) and pretrain_steps "
                             f"({self.pretrain_steps}) must be >= 0")
        g, d = m.get("generator", {}), m.get("discriminator", {})
        self.generator = SRResNet(channels=self.hr_shape[-1], features=int(g.get("features", 64)),
                                  num_blocks=int(g.get("num_blocks", 16)), scale=self.scale)
        self.discriminator = SRDiscriminator(features=int(d.get("features", 64)),
                                             num_stages=int(d.get("num_stages", 4)),
                                             dense=int(d.get("dense", 1024)))
        self.feature_seed = int(m.get("feature_seed", 0))
        self.feature_steps = int(m.get("feature_steps", 400))
        self._phi = None
        self._visualize = jax.jit(self._grids)

    @property
    def gan(self):
        return self.adversarial_weight > 0

    def phi_params(self):
        if self._phi is None:
            self._phi = photo_features(self.feature_seed, self.config.get("data_dir"), self.feature_steps).params
        return self._phi

    # -- networks --------------------------------------------------------------------------------------
    def generate(self, params, model_state, lr, train):
        if train:
            out, upd = self.generator.apply({"params": params, **model_state}, lr, train=True,
                                            mutable=["batch_stats"])
            return out, upd
        return self.generator.apply({"params": params, **model_state}, lr, train=False), model_state

    def discriminate(self, params, model_state, x):
        return self.discriminator.apply({"params": params, **model_state}, x, train=True,
                                        mutable=["batch_stats"])

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        lr, hr = jnp.zeros((2,) + self.lr_shape), jnp.zeros((2,) + self.hr_shape)
        gv = self.generator.init(kg, lr, train=False)
        params = {"generator": gv["params"]}
        model_state = {"generator": {"batch_stats": gv["batch_stats"]}}
        tx = {"generator": make_translation_optimizer(self.config.optim)}
        if self.gan:
            dv = self.discriminator.init(kd, hr, train=False)
            params["discriminator"] = dv["params"]
            model_state["discriminator"] = {"batch_stats": dv["batch_stats"]}
            tx["discriminator"] = make_translation_optimizer(self.config.get("d_optim") or self.config.optim)
        if self.content == "feature":
            self.phi_params()      # trained (or loaded) now, outside the compiled step
        return self.create_state(params, rng, tx=tx, model_state=model_state)

    def prepare(self, batch):
        return (pp.center_pm1(batch[self.lr_key], self.lr_levels),
                pp.center_pm1(batch[self.hr_key], self.hr_levels))

    # -- the step ------------------------------------------------------------------------------------------
    def g_loss(self, g_params, g_state, d_params, d_state, lr, hr, adv_on):
        sr, g_new = self.generate(g_params, g_state, lr, train=True)
        mse = content_mse(sr, hr)
        metrics = dict(mse=jnp.mean(mse))
        if self.content == "feature":
            phi = self.phi_params()
            feat = self.feature_scale * feature_content_loss(PhotoFeatures.apply(phi, (sr + 1) / 2),
                                                             PhotoFeatures.apply(phi, (hr + 1) / 2))
            metrics["feature"] = jnp.mean(feat)
            content = jnp.where(adv_on, feat, mse)       # MSE pretraining, then the feature content loss
        else:
            content = mse
        if self.gan:
            logits, _ = self.discriminate(d_params, d_state, sr)
            total, adv = srgan_generator_loss(content, logits, self.adversarial_weight * adv_on)
            metrics["g_adv"] = jnp.mean(adv)
        else:
            total = content
        metrics["g_loss"] = jnp.mean(total)
        return jnp.mean(total), (metrics, sr, g_new)

    def d_loss(self, d_params, d_state, hr, sr):
        real, upd = self.discriminate(d_params, d_state, hr)
        fake, upd = self.discriminate(d_params, upd, sr)
        loss = jnp.mean(srgan_discriminator_loss(real, fake))
        return loss, (dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real)),
                           d_fake=jnp.mean(jax.nn.sigmoid(fake))), upd)

    def train_step(self, state, batch, rng):
        del rng   # no noise: G is deterministic, the batches are the only randomness
        lr, hr = self.prepare(batch)
        adv_on = (state.step >= self.pretrain_steps).astype(jnp.float32)
        ms = state.model_state
        metrics = {}
        if self.gan:
            sr, _ = self.generate(state.params["generator"], ms["generator"], lr, train=True)
            sr = jax.lax.stop_gradient(sr)

            def update_d(s):
                grads, (m, d_new) = jax.grad(self.d_loss, has_aux=True)(
                    s.params["discriminator"], s.model_state["discriminator"], hr, sr)
                return s.apply_gradients(grads, player="discriminator", model_state=d_new), m

            def skip_d(s):
                _, (m, _) = self.d_loss(s.params["discriminator"], s.model_state["discriminator"], hr, sr)
                return s, m

            state, metrics = jax.lax.cond(adv_on > 0, update_d, skip_d, state)
            ms = state.model_state
        d_params = state.params.get("discriminator")
        d_state = ms.get("discriminator")
        grads, (g_metrics, _, g_new) = jax.grad(self.g_loss, has_aux=True)(
            state.params["generator"], ms["generator"], d_params, d_state, lr, hr, adv_on)
        state = state.apply_gradients(grads, player="generator", model_state=g_new)
        return state, dict(metrics, **g_metrics, g_grad_norm=optax.global_norm(grads))

    # -- evaluation --------------------------------------------------------------------------------------
    def super_resolve(self, state, lr_levels):
        """G(LR) in [0, 1] (running BatchNorm statistics) for LR images of integer levels, any size."""
        lr = pp.center_pm1(lr_levels, self.lr_levels)
        sr, _ = self.generate(state.eval_params()["generator"], state.model_state["generator"], lr, train=False)
        return (sr + 1.0) / 2.0

    def eval_step(self, state, batch, rng):
        """Per test patch: MSE on [-1, 1] and the Y-channel PSNR / SSIM of G(LR) and of bicubic."""
        del rng
        sr = quantize(self.super_resolve(state, batch[self.lr_key]))
        hr = pp.scale01(batch[self.hr_key], self.hr_levels)
        bic = quantize(bicubic_upsample(pp.scale01(batch[self.lr_key], self.lr_levels), self.scale))
        out = {"mse": content_mse(sr * 2 - 1, hr * 2 - 1)}
        border = self.scale if hr.shape[1] - 2 * self.scale >= 11 else 0
        out.update(sr_scores(sr, hr, border))
        out.update({f"bicubic_{k}": v for k, v in sr_scores(bic, hr, border).items()})
        return out

    def _grids(self, state, lr, hr):
        lr01 = pp.scale01(lr, self.lr_levels)
        near = jnp.repeat(jnp.repeat(lr01, self.scale, 1), self.scale, 2)
        rows = [near, bicubic_upsample(lr01, self.scale), jnp.clip(self.super_resolve(state, lr), 0, 1),
                pp.scale01(hr, self.hr_levels)]
        return {"super_resolution": self._grid_rows(rows)}

    def visualize(self, state, rng):
        """Rows: 8 fixed test LR patches (nearest-neighbour enlarged), bicubic, G(LR), the HR truth."""
        del rng
        return self._visualize(state, self._arrays(self.config.dataset, self.lr_key, 8),
                               self._arrays(self.config.dataset, self.hr_key, 8))



@register_evaluator("super_resolution")
class SuperResolutionEval(Evaluator):
    """Whole held-out images (default dataset 'photo_whole', split 'test'): the experiment's `super_resolve`
    against the HR truth and bicubic as the floor: psnr_y, ssim_y (Y channel, `border` = scale pixels cropped),
    frechet (Frechet distance of the feature vectors at every position of SR vs HR, in `PhotoFeatures` of
    `feature_seed` = 1), and bicubic_psnr_y, bicubic_ssim_y, bicubic_frechet. Settings: lr ('lr'), hr ('hr'),
    feature_seed (1), feature_steps (400)."""

    def known_settings(self):
        return ("lr", "hr", "feature_seed", "feature_steps")

    def __init__(self, prefix, settings, trainer):
        if not settings.get("dataset"):      # the whole held-out images, all of them, unless told otherwise
            settings = dict(settings, dataset="photo_whole", split=settings.get("split") or "test")
        super().__init__(prefix, settings, trainer)
        self._fn = None

    def run(self, state, step):
        from gen_jax import data as data_lib

        exp = self.trainer.experiment
        lr_key, hr_key = self.settings.get("lr", "lr"), self.settings.get("hr", "hr")
        info = data_lib.dataset_info(self.dataset, data_dir=self.config.get("data_dir"))
        a = data_lib.load_arrays(self.dataset, self.split, data_dir=self.config.get("data_dir"),
                                 features=(lr_key, hr_key))
        phi = photo_features(int(self.settings.get("feature_seed", 1)), self.config.get("data_dir"),
                             int(self.settings.get("feature_steps", 400))).params
        lr_levels, hr_levels = info.features[lr_key].num_levels, info.features[hr_key].num_levels
        scale = a[hr_key].shape[1] // a[lr_key].shape[1]
        if self._fn is None:
            def fn(state, lr, hr):
                hr01 = pp.scale01(hr, hr_levels)
                out, feats = {}, {"hr": PhotoFeatures.apply(phi, hr01)}
                for name, img in (("", quantize(exp.super_resolve(state, lr))),
                                  ("bicubic_", quantize(bicubic_upsample(pp.scale01(lr, lr_levels), scale)))):
                    out.update({name + k: jnp.mean(v) for k, v in sr_scores(img, hr01, scale).items()})
                    feats[name] = PhotoFeatures.apply(phi, img)
                return out, feats
            self._fn = jax.jit(fn)
        out, feats = self._fn(jax.device_get(state), a[lr_key], a[hr_key])
        from gen_jax.metrics.sample_quality import frechet_distance_from_features

        flat = {k: np.asarray(v, np.float64).reshape(-1, v.shape[-1]) for k, v in feats.items()}
        res = {k: float(v) for k, v in out.items()}
        res["frechet"] = frechet_distance_from_features(flat[""], flat["hr"])
        res["bicubic_frechet"] = frechet_distance_from_features(flat["bicubic_"], flat["hr"])
        return sorted(res.items())

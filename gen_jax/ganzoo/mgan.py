"""MGAN (Li & Wand 2016, "Precomputed Real-Time Texture Synthesis with Markovian Generative Adversarial
Networks"): a feed-forward generator trained against a Markovian discriminator that judges LOCAL PATCHES of a
feature map, to synthesise a texture; plus the feature-space texture (Gram) loss.

No pretrained VGG is available offline: the paper's fixed VGG-19 encoder is replaced by a small CNN the
library trains itself (`TextureFeatures`, trained once in `init_state` to classify which texture a crop comes
from, on model.extractor_split: every texture of the dataset; then fixed, in state.extra['f']). Its layers
(`FEATURE_LAYERS`): conv 3x3 / 1, conv 4x4 / 2 (layer 1, stride 2), conv 3x3 / 1, conv 4x4 / 2 (layer 2,
stride 4), ReLU after each, model.f_features channels.

* generator (fully convolutional, so it synthesises any size): a noise image z [H/4, W/4, z_channels] ~ U[-1, 1]
  -> conv 3x3 -> two (transposed conv 4x4 / 2, LeakyReLU 0.2) -> conv 3x3 -> tanh [H, W, C].
* Markovian discriminator (Sec. 3): on F's layer-1 feature map, a VALID conv whose kernel covers d_cells x
  d_cells feature cells, then two 1x1 convs: one logit per (overlapping) neural patch. Its receptive field in
  pixels is model.patch (`markovian_cells` turns the patch into d_cells; 10 pixels = 3x3 cells of layer 1,
  the paper's 3x3 neural patches); `patch_receptive_field` computes it, the tests measure it by gradients.
  The paper trains D with the hinge loss; here `gen_jax.gan.losses`' hinge per patch, patch-averaged.
* generator loss: adv_weight * mean_patches(-D) + texture_weight * L_gram + tv_weight * TV, where
      L_gram = sum_{layers l} mean_{c,c'} (G_l(G(z)) - mean_batch G_l(x))^2,   G_l(f) = f^T f / (h w)
  (`gram_matrix`, `gram_loss`; the Gram "style" statistics of Gatys et al. 2016, the texture term of MGAN's
  texture transfer) against the mean Gram matrix of the real crops of the batch. adv_weight = 0 is the
  non-adversarial baseline (a texture network trained with the Gram loss alone; D is then not trained).

Measurement (`texture_stats`, on held-out crops of the texture): texture-statistics distances computed in
the features of a SECOND extractor trained independently (another seed), so that the Gram baseline is not
scored by the very features it optimised: the relative Gram distance sum_l ||E G_l(gen) - E G_l(real)||_F /
||E G_l(real)||_F, and the patch Frechet distance (the FID formula) between the layer-1 feature vectors of all
positions (each a descriptor of a 6x6-pixel patch) of generated and of held-out crops; reported with the same
numbers for the train crops of the texture (the floor: real vs real) and for another texture (a ceiling).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.data import preprocess as pp
from gen_jax.gan import losses as gan_losses
from gen_jax.ganzoo.losses import total_variation
from gen_jax.metrics.sample_quality import frechet_distance_from_features
from gen_jax.nn.image2image import receptive_field_of
from gen_jax.translation import losses as tr_losses

FEATURE_LAYERS = ((3, 1), (4, 2), (3, 1), (4, 2))   # (kernel, stride); layer 1 ends at index 1, layer 2 at 3
TAPS = (1, 3)


class TextureFeatures(nn.Module):
    """The library's feature extractor: x in [-1, 1] [B, H, W, C] -> ([layer-1 map, layer-2 map], logits)."""
    features: int = 16
    num_classes: int = 3

    @nn.compact
    def __call__(self, x):
        h, taps = x, []
        for i, (k, s) in enumerate(FEATURE_LAYERS):
            p = (k - s) // 2 + (k - s) % 2 if s > 1 else k // 2
            pad = ((p, k - s - p), (p, k - s - p)) if s > 1 else ((p, p), (p, p))
            h = nn.relu(nn.Conv(self.features * (1 + (i >= 2)), (k, k), strides=(s, s), padding=pad,
                                name=f"conv{i}")(h))
            if i in TAPS:
                taps.append(h)
        return taps, nn.Dense(self.num_classes, name="head")(jnp.mean(h, axis=(1, 2)))


def patch_receptive_field(d_cells: int) -> int:
    """Pixels a Markovian-D logit sees: F's layers up to layer 1, then a d_cells x d_cells VALID conv."""
    return receptive_field_of(list(FEATURE_LAYERS[:TAPS[0] + 1]) + [(d_cells, 1), (1, 1), (1, 1)])


def markovian_cells(patch: int, max_cells: int = 16) -> int:
    """The d_cells whose receptive field is `patch` pixels; an error lists the patches there are."""
    sizes = {patch_receptive_field(c): c for c in range(1, max_cells + 1)}
    if int(patch) not in sizes:
        raise ValueError(f"no Markovian discriminator on layer 1 sees a {patch}x{patch} patch; the patches are "
                         f"{', '.join(str(s) for s in sorted(sizes))} pixels")
    return sizes[int(patch)]


class MarkovianDiscriminator(nn.Module):
    """feature map [B, h, w, C] -> [B, h - d_cells + 1, w - d_cells + 1] logits, one per neural patch."""
    d_cells: int = 3
    features: int = 32

    @nn.compact
    def __call__(self, f):
        h = nn.leaky_relu(nn.Conv(self.features, (self.d_cells, self.d_cells), padding="VALID")(f), 0.2)
        h = nn.leaky_relu(nn.Conv(self.features, (1, 1))(h), 0.2)
        return nn.Conv(1, (1, 1))(h)[..., 0]


class TextureGenerator(nn.Module):
    """noise z [B, H/4, W/4, Z] -> texture [B, H, W, channels] in [-1, 1]."""
    channels: int = 1
    features: int = 32

    @nn.compact
    def __call__(self, z):
        h = nn.leaky_relu(nn.Conv(self.features * 2, (3, 3))(z), 0.2)
        for k in range(2):
            h = nn.leaky_relu(nn.ConvTranspose(self.features * (2 - k), (4, 4), strides=(2, 2), padding="SAME")(h),
                              0.2)
        return jnp.tanh(nn.Conv(self.channels, (3, 3))(h))


def gram_matrix(f):
    """[B, H, W, C] features -> [B, C, C] Gram matrices (1 / (H W)) sum_positions f_p f_p^T."""
    if f.ndim != 4:
        raise ValueError(f"gram_matrix: features must be [batch, height, width, channels], got {f.shape}")
    b, h, w, c = f.shape
    v = f.reshape(b, h * w, c)
    return jnp.einsum("bpc,bpd->bcd", v, v) / (h * w)


def gram_loss(features, target_grams):
    """Per example sum over layers of mean_{c,c'} (G_l(features_l) - target_l)^2; features: a list of [B, H, W,
    C_l] maps, target_grams: a list of [C_l, C_l] (or [B, C_l, C_l]) Gram matrices."""
    if len(features) != len(target_grams):
        raise ValueError(f"gram_loss: {len(features)} feature maps but {len(target_grams)} target Grams")
    total = 0.0
    for f, t in zip(features, target_grams):
        g = gram_matrix(f)
        if jnp.shape(t)[-2:] != g.shape[-2:]:
            raise ValueError(f"gram_loss: target Gram {jnp.shape(t)} does not match the features' {g.shape}")
        total = total + jnp.mean((g - t) ** 2, axis=(-2, -1))
    return total


def train_extractor(x, y, num_classes: int, features: int, steps: int, seed: int, batch: int = 64):
    """Params of a `TextureFeatures` trained by Adam(1e-3) to classify crops x [N, H, W, C] in [-1, 1] by
    texture y [N]; batches drawn by np.random.default_rng(seed)."""
    model = TextureFeatures(features, num_classes)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1,) + x.shape[1:]))["params"]
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, xb, yb):
        def loss(p):
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": p}, xb)[1], yb))
        g = jax.grad(loss)(params)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt

    rng = np.random.default_rng(seed)
    for _ in range(int(steps)):
        i = rng.integers(0, len(x), batch)
        params, opt = step(params, opt, jnp.asarray(x[i]), jnp.asarray(y[i]))
    return params


@register("mgan")
class MGAN(Experiment):
    """MGAN texture synthesis (see the module docstring). config.model: patch, d_features, g_features,
    z_channels, f_features, f_steps, extractor_split, adv_weight, texture_weight, tv_weight."""

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None or len(info.shape) != 3 or not info.num_levels:
            raise ValueError("mgan trains on texture crops x [H, W, C] of integer levels (e.g. texture_crops), "
                             f"got {None if info is None else (info.name, info.shape)}")
        self.shape, self.levels = tuple(info.shape), int(info.num_levels)
        if self.shape[0] % 4 or self.shape[1] % 4:
            raise ValueError(f"mgan: crop size {self.shape[:2]} must be a multiple of 4")
        m = config.model
        self.patch = int(m.get("patch", 10))
        self.d_cells = markovian_cells(self.patch)
        self.adv_weight = float(m.get("adv_weight", 1.0))
        self.texture_weight = float(m.get("texture_weight", 1.0))
        self.tv_weight = float(m.get("tv_weight", 0.0))
        if min(self.adv_weight, self.texture_weight, self.tv_weight) < 0 or self.adv_weight + self.texture_weight == 0:
            raise ValueError("mgan: adv_weight, texture_weight, tv_weight must be >= 0, adv + texture > 0")
        self.z_channels = int(m.get("z_channels", 8))
        self.f_features, self.f_steps = int(m.get("f_features", 16)), int(m.get("f_steps", 500))
        self.num_classes = int(info.num_classes or 1)
        self.extractor = TextureFeatures(self.f_features, self.num_classes)
        self.generator = TextureGenerator(self.shape[-1], int(m.get("g_features", 32)))
        self.discriminator = MarkovianDiscriminator(self.d_cells, int(m.get("d_features", 32)))
        self._visualize = jax.jit(self._grids)

    def labelled_crops(self, split):
        """(crops in [-1, 1], labels) of `split` of config.dataset (the extractor's training data)."""
        from gen_jax import data as data_lib

        a = data_lib.load_arrays(self.config.dataset, split, data_dir=self.config.get("data_dir"))
        y = a["label"] if "label" in a else np.zeros(len(a["x"]), np.int32)
        return np.asarray(pp.center_pm1(a["x"], self.levels), np.float32), np.asarray(y, np.int32)

    def init_state(self, rng, batch):
        x, y = self.labelled_crops(self.config.model.get("extractor_split", "train"))
        f = train_extractor(x, y, self.num_classes, self.f_features, self.f_steps, int(self.config.seed))
        kg, kd = jax.random.split(rng)
        h, w, _ = self.shape
        taps, _ = self.extractor.apply({"params": f}, jnp.zeros((1,) + self.shape))
        params = {"generator": self.generator.init(kg, jnp.zeros((1, h // 4, w // 4, self.z_channels)))["params"],
                  "discriminator": self.discriminator.init(kd, taps[0])["params"]}
        d_tx = make_optimizer(self.config.get("d_optim") or self.config.optim)
        return self.create_state(params, rng, tx={"generator": make_optimizer(self.config.optim),
                                                  "discriminator": d_tx}, extra={"f": f})

    # -- pieces ------------------------------------------------------------------------------------------------
    def features(self, f_params, x):
        return self.extractor.apply({"params": f_params}, x)[0]

    def noise(self, rng, n, height=None, width=None):
        h, w = height or self.shape[0], width or self.shape[1]
        return jax.random.uniform(rng, (n, h // 4, w // 4, self.z_channels), minval=-1.0, maxval=1.0)

    def patch_logits(self, d_params, f_params, x):
        return self.discriminator.apply({"params": d_params}, self.features(f_params, x)[0])

    def d_loss(self, d_params, f_params, real, fake):
        rl, fl = self.patch_logits(d_params, f_params, real), self.patch_logits(d_params, f_params, fake)
        loss = jnp.mean(tr_losses.patch_mean(gan_losses.discriminator_hinge_loss, rl, fl))
        return loss, {"d_loss": loss, "d_real": jnp.mean(rl), "d_fake": jnp.mean(fl)}

    def g_loss(self, g_params, d_params, f_params, z, target_grams):
        fake = self.generator.apply({"params": g_params}, z)
        gram = jnp.mean(gram_loss(self.features(f_params, fake), target_grams))
        adv = (jnp.mean(tr_losses.patch_mean(gan_losses.generator_hinge_loss,
                                             self.patch_logits(d_params, f_params, fake)))
               if self.adv_weight > 0 else jnp.zeros(()))
        tv = jnp.mean(total_variation(fake)) if self.tv_weight > 0 else jnp.zeros(())
        total = self.adv_weight * adv + self.texture_weight * gram + self.tv_weight * tv
        return total, {"g_loss": total, "g_adv": adv, "gram_loss": gram}

    def train_step(self, state, batch, rng):
        real = pp.center_pm1(batch["x"], self.levels)
        f = state.extra["f"]
        kd, kg = jax.random.split(rng)
        metrics = {}
        if self.adv_weight > 0:
            fake = self.generator.apply({"params": state.params["generator"]}, self.noise(kd, real.shape[0]))
            grads, metrics = jax.grad(self.d_loss, has_aux=True)(state.params["discriminator"], f, real,
                                                                 jax.lax.stop_gradient(fake))
            state = state.apply_gradients(grads, player="discriminator")
        targets = [jnp.mean(gram_matrix(t), 0) for t in self.features(f, real)]
        grads, gm = jax.grad(self.g_loss, has_aux=True)(state.params["generator"], state.params["discriminator"], f,
                                                        self.noise(kg, real.shape[0]), targets)
        state = state.apply_gradients(grads, player="generator")
        return state, dict(metrics, **gm)

    def sample(self, state, rng, num, labels=None, height=None, width=None):
        """num textures [num, H, W, C] in [0, 1] (any H, W multiples of 4; default the crop size)."""
        del labels
        z = self.noise(rng, int(num), height, width)
        return (self.generator.apply({"params": state.eval_params()["generator"]}, z) + 1.0) / 2.0

    def eval_step(self, state, batch, rng):
        """Per held-out crop: the Gram loss (training features) of one generated crop against its Gram."""
        real = pp.center_pm1(batch["x"], self.levels)
        f = state.extra["f"]
        fake = self.sample(state, rng, real.shape[0]) * 2.0 - 1.0
        return {"gram_loss": gram_loss(self.features(f, fake), [gram_matrix(t) for t in self.features(f, real)])}

    def _grids(self, state, real):
        key = jax.random.PRNGKey(self.config.seed)
        return {"swatches": self.sample(state, key, 8, height=2 * self.shape[0], width=2 * self.shape[1]),
                "samples": jnp.stack([self.sample(state, key, 8), pp.scale01(real, self.levels)])}

    def visualize(self, state, rng):
        """'swatches': 8 generated textures at twice the crop size; 'samples': 8 generated crops over 8 held-out
        real crops."""
        del rng
        return self._visualize(state, self.example_batch(8)["x"])


def texture_statistics(extract, a, b):
    """(relative Gram distance, patch Frechet distance) between crop sets a, b [N, H, W, C] in [-1, 1] in the
    features `extract(x) -> [layer maps]` (see the module docstring)."""
    fa, fb = extract(a), extract(b)
    gram = 0.0
    for la, lb in zip(fa, fb):
        ga, gb = np.asarray(jnp.mean(gram_matrix(la), 0)), np.asarray(jnp.mean(gram_matrix(lb), 0))
        gram += float(np.linalg.norm(ga - gb) / np.linalg.norm(gb))
    pa = np.asarray(fa[0]).reshape(-1, fa[0].shape[-1])
    pb = np.asarray(fb[0]).reshape(-1, fb[0].shape[-1])
    return gram, frechet_distance_from_features(pa, pb)


@register_evaluator("texture_stats")
class TextureStats(Evaluator):
    """MGAN's measurement (see the module docstring). Settings: num_samples (default: the split's size),
    extractor_steps (config.model.f_steps), reference_split (the texture's train crops), other_split (crops of
    another texture; '' to skip). Metrics: gram_distance, patch_fid, and *_train, *_other for the references."""

    def known_settings(self):
        return ("num_samples", "extractor_steps", "reference_split", "other_split")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self._extract = None

    def run(self, state, step):
        exp = self.trainer.experiment
        if self._extract is None:
            x, y = exp.labelled_crops(exp.config.model.get("extractor_split", "train"))
            f = train_extractor(x, y, exp.num_classes, exp.f_features,
                                int(self.settings.get("extractor_steps", exp.f_steps)), self.seed + 1000)
            self._extract = jax.jit(lambda a: exp.features(f, a))
        held, _ = exp.labelled_crops(self.split)
        n = int(self.settings.get("num_samples", 0) or 0) or len(held)
        gen = np.asarray(jax.jit(exp.sample, static_argnums=2)(state, jax.random.PRNGKey(self.seed), n)) * 2 - 1
        out = {}
        g, fid = texture_statistics(self._extract, gen, held)
        out["gram_distance"], out["patch_fid"] = g, fid
        refs = {"train": self.settings.get("reference_split", self.config.get("train_split", "train")),
                "other": self.settings.get("other_split", "")}
        for name, split in refs.items():
            if split:
                ref, _ = exp.labelled_crops(split)
                g, fid = texture_statistics(self._extract, ref[:n], held)
                out[f"gram_distance_{name}"], out[f"patch_fid_{name}"] = g, fid
        return out.items()

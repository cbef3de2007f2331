"""Text- and tag-conditioned GANs on the engine: GAN / GAN-CLS / GAN-INT / GAN-INT-CLS (Reed et al. 2016b) and
the anime-character GAN (Jin et al. 2017), on a captioned dataset (`gen_jax.data.captioned`).

**`text2image`** (config.model.variant: 'gan' | 'gan_cls' | 'gan_int' | 'gan_int_cls'). The condition is
phi(t), the embedding of one of the image's captions (drawn per example and step) by the FROZEN text encoder
of `gen_jax.text2image.encoder` (config.text_encoder: its settings and `path`; trained on first use and saved
there, loaded afterwards; its params ride in `state.extra['text_encoder']`), standardised per dimension by
the mean and std of the train split's caption embeddings (model.standardize_embedding, default on: the joint
embedding leaves phi with a large shared component and small caption-to-caption differences, about 0.07 per
dimension around a mean of norm 0.66 on captioned_mnist5k, which the generator otherwise ignores; measured in
the README). Per step (Reed et al. 2016b,
Algorithm 1):
    h = phi(t), h_hat = phi(t) of the next example of the batch (a mismatching caption), x_fake = G(z, h)
    D <- D - Adam(grad mean[-log D(x, h) - 1/2 (log(1 - D(x, h_hat)) + log(1 - D(x_fake, h)))])    (CLS)
         or  grad mean[-log D(x, h) - log(1 - D(x_fake, h))]                                          (no CLS)
    G <- G - Adam(grad mean[-log D(G(z, h), h)]
                  + mean[-log D(G(z', h_int), h_int)], h_int = beta h + (1 - beta) h_next)           (INT)
with the non-saturating generator loss, beta = model.int_beta = 0.5, and D never trained on interpolated
pairs (it has no real image for them). The players are `models.TextConditionedGenerator` (the DCGAN
generator of gen_jax.gan on [z, compressed phi]) and `models.MatchingDiscriminator`.

**`anime_gan`**: the condition is the multi-hot tag vector (`tags`); G is `models.SRResNetGenerator` on
[z, tags], D is `models.TagDiscriminator` (an adversarial logit and one logit per tag). Losses (Jin et al.
2017, Sec. 4.2, with the ACGAN-style classifier):
    L_D = lambda_adv mean L_minimax(D(x), D(G(z, c))) + mean L_cls(D_tags(x), tags) + lambda_gp DRAGAN
    L_G = lambda_adv mean L_ns(D(G(z, c))) + mean L_cls(D_tags(G(z, c)), c)
with c the batch's own tags (so fakes have tag sets of the data), L_cls the sigmoid cross-entropy summed over
the tags (`losses.tag_loss`), lambda_adv = model.adv_weight (default: the number of tags, Jin et al.'s
choice), and the DRAGAN penalty (`gen_jax.gan.losses.dragan_penalty`, lambda_gp = model.dragan_weight, 0.5 as
in Jin et al.; 0 turns it off) on D's adversarial logit. model.d_tags_on_fake adds ACGAN's fake-image term
to D's classifier loss (off by default).

**`stackgan`** (Zhang et al. 2017): `StackGAN` below; Stage-I G/D at half the data's resolution, then Stage-II
G/D refining Stage-I's images to the data's resolution, conditioned again through a second conditioning
augmentation; the two stages are trained one after the other in the same run (model.stage1_steps).

All expose `conditional_sample(state, rng, batch)` for the `caption_attributes` evaluator
(`gen_jax.text2image.evaluators`) and write sample grids: `per_caption` (one row per held-out test caption,
the same z along each column) and `caption_interpolation` (rows walk from one caption's embedding, or tag
vector, to another's at a fixed z).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.experiment import Experiment, Input, register
from gen_jax.core.optim import make_optimizer
from gen_jax.gan import losses as gan_losses
from gen_jax.gan.steps import GAN
from gen_jax.nn.latent import fixed_latents
from gen_jax.text2image import encoder as encoder_lib
from gen_jax.text2image import (
    evaluators,  # noqa: F401  (registers the caption_attributes evaluator)
    losses,
)
from gen_jax.text2image.models import (
    MatchingDiscriminator,
    SRResNetGenerator,
    StageIGenerator,
    StageIIGenerator,
    TagDiscriminator,
    TextConditionedGenerator,
)

VARIANTS = {"gan": (False, False), "gan_cls": (True, False), "gan_int": (False, True), "gan_int_cls": (True, True)}
_apply = GAN._apply


def _split(v):
    return v["params"], {k: c for k, c in v.items() if k != "params"}


def _check_features(name, info, needed):
    if info is None:
        return
    missing = [f for f in needed if f not in info.features]
    if missing:
        raise ValueError(f"{name}: dataset {getattr(info, 'name', '?')!r} lacks the features {missing} (use a "
                         f"captioned dataset: captioned_mnist5k, captioned_digits, or 'captions:<catalog name>?feature=...')")


class _Conditional(Experiment):
    """What the two experiments share: data handling, the two-player optimizers, grids, the sampling hook."""

    features = ("x", "caption_tokens", "tags")

    def __init__(self, config, info):
        super().__init__(config, info)
        _check_features(self.name, info, self.features)
        self.image_shape = tuple(info.features["x"].shape) if hasattr(info, "features") else tuple(info.shape)
        self.num_levels = info.features["x"].num_levels if hasattr(info, "features") else info.num_levels
        self.latent_dim = int(config.model.get("latent_dim", 100))
        self._visualize = jax.jit(self._grids)

    def inputs(self):
        return {"train": Input(features=self.features)}

    def preprocess(self, x):
        from gen_jax.data import preprocess as pp

        return pp.center_pm1(x, self.num_levels)

    @staticmethod
    def to_images01(x):
        return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)

    def optimizers(self):
        c = self.config
        g_tx = make_optimizer(c.optim)
        d_tx = make_optimizer(c.d_optim) if c.get("d_optim") else make_optimizer(c.optim)
        return {"generator": g_tx, "discriminator": d_tx}

    # -- conditions ---------------------------------------------------------------------------------------
    def condition(self, state, batch):
        """[B, dim] conditions of `batch` (one caption per example already chosen: caption_tokens [B, L])."""
        raise NotImplementedError

    def generate(self, params, gstate, z, cond, train):
        return _apply(self.generator, params, gstate, train, z, cond)

    def render(self, state, z, cond):
        """Generator images in [-1, 1] for latents z and conditions cond, with the EMA generator when there is
        one (batch norm in inference mode)."""
        x, _ = self.generate(state.eval_params()["generator"], state.model_state["generator"], z, cond, False)
        return x

    def conditional_sample(self, state, rng, batch, **kwargs):
        """Images in [0, 1] for the conditions of `batch` ({'caption_tokens': [B, L], 'tags': [B, T]}), one z
        ~ N(0, I) each; kwargs go to `render` (StackGAN: stage=1 or 2)."""
        cond = self.condition(state, batch)
        z = jax.random.normal(rng, (cond.shape[0], self.latent_dim))
        return self.to_images01(self.render(state, z, cond, **kwargs))

    # -- grids --------------------------------------------------------------------------------------------
    def _grid_batch(self):
        ex = self.example_batch(16, self.config.get("eval_split", "test"))
        out = {"caption_tokens": jnp.asarray(ex["caption_tokens"][:, 0], jnp.int32)}
        if "tags" in ex:   # a 'captions:' catalog dataset has no tags
            out["tags"] = jnp.asarray(ex["tags"], jnp.float32)
        return out

    def _grids(self, state, batch, **kwargs):
        cond = self.condition(state, batch)                       # [16, dim]
        z = fixed_latents(self.config.seed, 8, self.latent_dim)
        rows = jnp.repeat(cond[:8], 8, axis=0)                    # row r: caption r, column j: z_j
        per_caption = self.render(state, jnp.tile(z, (8, 1)), rows, **kwargs)
        beta = jnp.linspace(1.0, 0.0, 8)[None, :, None]           # row r: caption 2r -> caption 2r + 1
        walk = (beta * cond[0::2][:, None] + (1.0 - beta) * cond[1::2][:, None]).reshape(64, -1)
        zw = jnp.repeat(z, 8, axis=0)                             # one z per row
        interp = self.render(state, zw, walk, **kwargs)
        return {"per_caption": self.to_images01(per_caption), "caption_interpolation": self.to_images01(interp)}

    def visualize(self, state, rng):
        """The grids of the module docstring, from fixed latents and the eval split's first 16 examples
        (`rng` is unused on purpose, so that grids at different steps are comparable)."""
        del rng
        return self._visualize(state, self._grid_batch())

    def grid_captions(self):
        """The captions of the grid rows, for the record (rows of per_caption; pairs of the interpolation)."""
        from gen_jax.data import catalog_captions
        from gen_jax.data.captioned import detokenize

        if self.info.name.startswith(catalog_captions.SCHEME):
            detokenize = catalog_captions.vocabulary(self.info.name, self.config.get("data_dir")).detokenize
        ex = self.example_batch(16, self.config.get("eval_split", "test"))
        return [detokenize(t) for t in np.asarray(ex["caption_tokens"][:, 0])]


@register("text2image")
class TextToImageGAN(_Conditional):
    """GAN / GAN-CLS / GAN-INT / GAN-INT-CLS (Reed et al. 2016b). See the module docstring."""

    features = ("x", "caption_tokens")

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        variant = m.get("variant", "gan_int_cls")
        if variant not in VARIANTS:
            raise ValueError(f"unknown model.variant {variant!r}; expected one of {sorted(VARIANTS)}")
        self.cls, self.int = VARIANTS[variant]
        self.int_beta = float(m.get("int_beta", 0.5))
        self.g_steps = int(m.get("g_steps", 1))
        if self.g_steps < 1:
            raise ValueError(f"model.g_steps must be >= 1, got {self.g_steps}")
        te = dict(config.get("text_encoder", None) or {})
        path = te.pop("path", "")
        if hasattr(info, "name") and "dataset" not in te:
            te["dataset"] = info.name
        self.encoder = encoder_lib.text_encoder(te, path=path, data_dir=config.get("data_dir"))
        e = self.encoder.settings["embed_dim"]
        if m.get("standardize_embedding", True):
            self.embedding_stats = encoder_lib.embedding_stats(self.encoder, info.name,
                                                               data_dir=config.get("data_dir"))
        else:
            self.embedding_stats = (jnp.zeros((e,)), jnp.ones((e,)))
        size, ch = self.image_shape[0], self.image_shape[-1]
        self.generator = TextConditionedGenerator(image_size=size, channels=ch, features=int(m.get("g_features", 64)),
                                                  proj_dim=int(m.get("proj_dim", 128)))
        self.discriminator = MatchingDiscriminator(image_size=size, features=int(m.get("d_features", 64)),
                                                   norm=m.get("d_norm", "batch"), proj_dim=int(m.get("proj_dim", 128)))

    def embed(self, state, tokens):
        """phi(t) of the frozen encoder, standardised by the train captions' per-dimension mean and std."""
        phi = self.encoder.module.apply({"params": state.extra["text_encoder"]}, tokens)
        return jax.lax.stop_gradient((phi - state.extra["embedding_mean"]) / state.extra["embedding_std"])

    def condition(self, state, batch):
        return self.embed(state, jnp.asarray(batch["caption_tokens"], jnp.int32))

    def frozen_extra(self):
        """The frozen text encoder and its standardisation, carried (and checkpointed) in state.extra."""
        copy = lambda p: jnp.array(p, copy=True)   # real copies: the engine donates the state's buffers
        mean, std = self.embedding_stats
        return {"text_encoder": jax.tree.map(copy, self.encoder.params), "embedding_mean": copy(mean),
                "embedding_std": copy(std)}

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        e = self.encoder.settings["embed_dim"]
        z, h = jnp.zeros((2, self.latent_dim)), jnp.zeros((2, e))
        gp, gs = _split(self.generator.init(kg, z, h, train=False))
        dp, ds = _split(self.discriminator.init(kd, jnp.zeros((2,) + self.image_shape), h, train=False))
        return self.create_state({"generator": gp, "discriminator": dp}, rng, tx=self.optimizers(),
                                 model_state={"generator": gs, "discriminator": ds},
                                 extra=self.frozen_extra())

    def _pick_captions(self, tokens, rng):
        b, n = tokens.shape[:2]
        return tokens[jnp.arange(b), jax.random.randint(rng, (b,), 0, n)]

    def discriminator_loss(self, dp, ds, x, fake, h, h_wrong):
        apply = lambda s, img, c: _apply(self.discriminator, dp, s, True, img, c)
        s_r, ds = apply(ds, x, h)
        s_w, ds = apply(ds, x, h_wrong)
        s_f, ds = apply(ds, fake, h)
        loss = jnp.mean(losses.matching_aware_discriminator_loss(s_r, s_w, s_f, cls=self.cls))
        return loss, (ds, dict(d_loss=loss, real_logit=jnp.mean(s_r), wrong_logit=jnp.mean(s_w),
                               fake_logit=jnp.mean(s_f)))

    def generator_loss(self, gp, gs, dp, ds, z, h, z_int, h_int):
        fake, gs = self.generate(gp, gs, z, h, True)
        logits, _ = _apply(self.discriminator, dp, ds, True, fake, h)
        loss = jnp.mean(gan_losses.generator_nonsaturating_loss(logits))
        if self.int:
            fake_i, gs = self.generate(gp, gs, z_int, h_int, True)
            logits_i, _ = _apply(self.discriminator, dp, ds, True, fake_i, h_int)
            loss = loss + jnp.mean(gan_losses.generator_nonsaturating_loss(logits_i))
        return loss, gs

    def train_step(self, state, batch, rng):
        x = self.preprocess(batch["x"])
        b = x.shape[0]
        kc, kz, kg = jax.random.split(rng, 3)
        h = self.embed(state, self._pick_captions(jnp.asarray(batch["caption_tokens"], jnp.int32), kc))
        h_other = jnp.roll(h, 1, axis=0)       # the caption of another image: mismatching, and GAN-INT's t2
        fake, _ = self.generate(state.params["generator"], state.model_state["generator"],
                                jax.random.normal(kz, (b, self.latent_dim)), h, True)
        grads, (ds, metrics) = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], state.model_state["discriminator"], x, jax.lax.stop_gradient(fake),
            h, h_other)
        metrics["d_grad_norm"] = optax.global_norm(grads)
        state = state.apply_gradients(grads, player="discriminator", model_state=ds)
        h_int = losses.interpolate_embeddings(h, h_other, self.int_beta)
        for i in range(self.g_steps):
            kz1, kz2 = jax.random.split(jax.random.fold_in(kg, i))
            (g_loss, gs), g_grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
                state.params["generator"], state.model_state["generator"], state.params["discriminator"],
                state.model_state["discriminator"], jax.random.normal(kz1, (b, self.latent_dim)), h,
                jax.random.normal(kz2, (b, self.latent_dim)), h_int)
            state = state.apply_gradients(g_grads, player="generator", model_state=gs)
        return state, dict(metrics, g_loss=g_loss, g_grad_norm=optax.global_norm(g_grads))

    def eval_step(self, state, batch, rng):
        """Per test example (its first caption): D's logits on the real image and on a fresh fake."""
        x = self.preprocess(batch["x"])
        h = self.embed(state, jnp.asarray(batch["caption_tokens"][:, 0], jnp.int32))
        fake = self.conditional_sample(state, rng, {"caption_tokens": batch["caption_tokens"][:, 0]}) * 2.0 - 1.0
        dp, ds = state.params["discriminator"], state.model_state["discriminator"]
        s_r, _ = _apply(self.discriminator, dp, ds, False, x, h)
        s_f, _ = _apply(self.discriminator, dp, ds, False, fake, h)
        return dict(d_loss=gan_losses.discriminator_minimax_loss(s_r, s_f), real_logit=s_r, fake_logit=s_f)


@register("anime_gan")
class AnimeGAN(_Conditional):
    """Jin et al. 2017's tag-conditioned GAN with DRAGAN. See the module docstring."""

    features = ("x", "tags")

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.num_tags = int(info.features["tags"].shape[0]) if hasattr(info, "features") else int(info.num_tags)
        self.adv_weight = float(m.get("adv_weight", 0.0) or self.num_tags)
        self.dragan_weight = float(m.get("dragan_weight", 0.5))
        self.d_tags_on_fake = bool(m.get("d_tags_on_fake", False))
        size, ch = self.image_shape[0], self.image_shape[-1]
        ups = int(m.get("num_upsamples", 2))
        self.generator = SRResNetGenerator(image_size=size, channels=ch, features=int(m.get("g_features", 64)),
                                           num_blocks=int(m.get("num_blocks", 16)), num_upsamples=ups)
        self.discriminator = TagDiscriminator(num_tags=self.num_tags, features=int(m.get("d_features", 32)),
                                              num_stages=int(m.get("d_stages", 2)),
                                              blocks_per_stage=int(m.get("d_blocks", 1)))

    def condition(self, state, batch):
        return jnp.asarray(batch["tags"], jnp.float32)

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        gp, gs = _split(self.generator.init(kg, jnp.zeros((2, self.latent_dim)), jnp.zeros((2, self.num_tags)),
                                            train=False))
        dp, _ = _split(self.discriminator.init(kd, jnp.zeros((2,) + self.image_shape), train=False))
        return self.create_state({"generator": gp, "discriminator": dp}, rng, tx=self.optimizers(),
                                 model_state={"generator": gs, "discriminator": {}})

    def discriminator_loss(self, dp, x, fake, tags, rng):
        d = lambda img: self.discriminator.apply({"params": dp}, img)
        (s_r, t_r), (s_f, t_f) = d(x), d(fake)
        adv = jnp.mean(gan_losses.discriminator_minimax_loss(s_r, s_f))
        cls = jnp.mean(losses.tag_loss(t_r, tags))
        if self.d_tags_on_fake:
            cls = cls + jnp.mean(losses.tag_loss(t_f, tags))
        pen = jnp.zeros(())
        if self.dragan_weight:
            pen = self.dragan_weight * jnp.mean(gan_losses.dragan_penalty(lambda v: d(v)[0], x, rng))
        loss = self.adv_weight * adv + cls + pen
        return loss, dict(d_adv=adv, d_tags=cls, penalty=pen, real_logit=jnp.mean(s_r), fake_logit=jnp.mean(s_f))

    def generator_loss(self, gp, gs, dp, z, tags):
        fake, gs = self.generate(gp, gs, z, tags, True)
        s_f, t_f = self.discriminator.apply({"params": dp}, fake)
        adv = jnp.mean(gan_losses.generator_nonsaturating_loss(s_f))
        cls = jnp.mean(losses.tag_loss(t_f, tags))
        return self.adv_weight * adv + cls, (gs, dict(g_adv=adv, g_tags=cls))

    def train_step(self, state, batch, rng):
        x = self.preprocess(batch["x"])
        tags = jnp.asarray(batch["tags"], jnp.float32)
        b = x.shape[0]
        kz, kp, kg = jax.random.split(rng, 3)
        fake, _ = self.generate(state.params["generator"], state.model_state["generator"],
                                jax.random.normal(kz, (b, self.latent_dim)), tags, True)
        grads, metrics = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], x, jax.lax.stop_gradient(fake), tags, kp)
        metrics["d_grad_norm"] = optax.global_norm(grads)
        state = state.apply_gradients(grads, player="discriminator")
        (g_loss, (gs, g_metrics)), g_grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
            state.params["generator"], state.model_state["generator"], state.params["discriminator"],
            jax.random.normal(kg, (b, self.latent_dim)), tags)
        state = state.apply_gradients(g_grads, player="generator", model_state=gs)
        return state, dict(metrics, **g_metrics, g_loss=g_loss, g_grad_norm=optax.global_norm(g_grads))

    def eval_step(self, state, batch, rng):
        """Per test example: the tag loss of D's classifier on the real image and on a fake of its tags."""
        x = self.preprocess(batch["x"])
        tags = jnp.asarray(batch["tags"], jnp.float32)
        fake = self.conditional_sample(state, rng, {"tags": tags}) * 2.0 - 1.0
        d = lambda img: self.discriminator.apply({"params": state.params["discriminator"]}, img)
        (s_r, t_r), (s_f, t_f) = d(x), d(fake)
        return dict(d_loss=gan_losses.discriminator_minimax_loss(s_r, s_f), real_tag_loss=losses.tag_loss(t_r, tags),
                    fake_tag_loss=losses.tag_loss(t_f, tags))


@register("stackgan")
class StackGAN(TextToImageGAN):
    """StackGAN (Zhang et al. 2017) in its two training stages, one run: Stage-I G/D for the first
    model.stage1_steps steps, then Stage-II G/D with Stage-I frozen (see the module docstring).

    Stage-I works at half the data's resolution (2x2 average pooling of the real images: 14x14 for 28x28
    mnist5k), Stage-II at the data's. Both discriminators are matching-aware (real+match, real+mismatch x 1/2,
    fake+match x 1/2), both generators minimise the non-saturating loss + kl_weight * KL(N(mu, sigma^2) ||
    N(0, I)) of their own conditioning augmentation. kl_weight defaults to 2 / c_dim: the released code's
    coefficient 2 on the KL averaged over the c_dim dimensions (the paper's Eq. 6 states lambda = 1; set
    model.kl_weight=1 for that on the summed KL). model.finetune_stage1=True lets Stage-II's generator loss
    flow into Stage-I's generator (and updates it) instead of treating its images as constants."""

    features = ("x", "caption_tokens")

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        size, ch = self.image_shape[0], self.image_shape[-1]
        if size % 4:
            raise ValueError(f"stackgan: the image size {size} must be divisible by 4 (Stage-I at half of it, "
                             "encoded by Stage-II to a quarter)")
        self.low = size // 2
        self.c_dim = int(m.get("c_dim", 128))
        self.kl_weight = float(m.get("kl_weight", 0.0) or 2.0 / self.c_dim)
        self.stage1_steps = int(m.get("stage1_steps", 1000))
        self.finetune_stage1 = bool(m.get("finetune_stage1", False))
        gf, df = int(m.get("g_features", 64)), int(m.get("d_features", 64))
        norm, proj = m.get("d_norm", "batch"), int(m.get("proj_dim", 128))
        self.players = {
            "g1": StageIGenerator(image_size=self.low, channels=ch, features=gf, c_dim=self.c_dim),
            "d1": MatchingDiscriminator(image_size=self.low, features=df, norm=norm, proj_dim=proj),
            "g2": StageIIGenerator(channels=ch, features=gf, c_dim=self.c_dim, num_blocks=int(m.get("num_blocks", 2))),
            "d2": MatchingDiscriminator(image_size=size, features=df, norm=norm, proj_dim=proj),
        }

    def optimizers(self):
        txs = super().optimizers()
        return {"g1": txs["generator"], "g2": txs["generator"], "d1": txs["discriminator"],
                "d2": txs["discriminator"]}

    def init_state(self, rng, batch):
        keys = dict(zip(self.players, jax.random.split(rng, 4)))
        e = self.encoder.settings["embed_dim"]
        z, h = jnp.zeros((2, self.latent_dim)), jnp.zeros((2, e))
        lo, hi = jnp.zeros((2, self.low, self.low, self.image_shape[-1])), jnp.zeros((2,) + self.image_shape)
        args = {"g1": (z, h), "d1": (lo, h), "g2": (lo, h), "d2": (hi, h)}
        params, model_state = {}, {}
        for name, module in self.players.items():
            params[name], model_state[name] = _split(module.init(keys[name], *args[name], train=False))
        return self.create_state(params, rng, tx=self.optimizers(), model_state=model_state,
                                 extra=self.frozen_extra())

    def downsample(self, x):
        """[B, H, W, C] -> [B, H/2, W/2, C] by 2x2 averaging: Stage-I's real images."""
        b, h, w, c = x.shape
        return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))

    def _run(self, name, params, model_state, train, *args):
        return _apply(self.players[name], params[name], model_state[name], train, *args)

    def stage_images(self, params, model_state, z, h, eps1, eps2, train, stage2=True):
        """(Stage-I image, Stage-II image or None, [(mu, log_sigma)] of each CA, new generator collections).
        Stage-II consumes Stage-I's image, through stop_gradient unless model.finetune_stage1."""
        (s0, mu1, ls1), st1 = self._run("g1", params, model_state, train, z, h, eps1)
        if not stage2:
            return s0, None, [(mu1, ls1)], {"g1": st1}
        s0_in = s0 if self.finetune_stage1 else jax.lax.stop_gradient(s0)
        (s1, mu2, ls2), st2 = self._run("g2", params, model_state, train, s0_in, h, eps2)
        return s0, s1, [(mu1, ls1), (mu2, ls2)], {"g1": st1, "g2": st2}

    def _d_loss(self, d_params, name, model_state, real, fake, h, h_wrong):
        ds = model_state[name]
        apply = lambda s, img, c: _apply(self.players[name], d_params, s, True, img, c)
        s_r, ds = apply(ds, real, h)
        s_w, ds = apply(ds, real, h_wrong)
        s_f, ds = apply(ds, fake, h)
        loss = jnp.mean(losses.matching_aware_discriminator_loss(s_r, s_w, s_f, cls=True))
        return loss, (ds, dict(d_loss=loss, real_logit=jnp.mean(s_r), wrong_logit=jnp.mean(s_w),
                               fake_logit=jnp.mean(s_f)))

    def generator_objective(self, g_params, params, model_state, z, h, eps1, eps2, stage2):
        """Stage-I (stage2=False) or Stage-II generator loss: non-saturating + kl_weight * KL of its CA."""
        p = dict(params, **g_params)
        s0, s1, cas, gstate = self.stage_images(p, model_state, z, h, eps1, eps2, True, stage2)
        d = "d2" if stage2 else "d1"
        logits, _ = self._run(d, p, model_state, True, s1 if stage2 else s0, h)
        mu, ls = cas[-1]
        kl = jnp.mean(losses.conditioning_kl(mu, ls))
        adv = jnp.mean(gan_losses.generator_nonsaturating_loss(logits))
        return adv + self.kl_weight * kl, (gstate, dict(g_loss=adv, kl=kl))

    def _stage(self, state, x, h, h_wrong, rng, stage2):
        b = x.shape[0]
        kz, k1, k2, kg, kg1, kg2 = jax.random.split(rng, 6)
        eps = lambda k: jax.random.normal(k, (b, self.c_dim))
        z = jax.random.normal(kz, (b, self.latent_dim))
        s0, s1, _, _ = self.stage_images(state.params, state.model_state, z, h, eps(k1), eps(k2), True, stage2)
        d, real, fake = ("d2", x, s1) if stage2 else ("d1", self.downsample(x), s0)
        grads, (ds, metrics) = jax.grad(self._d_loss, has_aux=True)(
            state.params[d], d, state.model_state, real, jax.lax.stop_gradient(fake), h, h_wrong)
        state = state.apply_gradients(grads, player=d, model_state=ds)
        trained = ("g1", "g2") if (stage2 and self.finetune_stage1) else (("g2",) if stage2 else ("g1",))
        g_params = {k: state.params[k] for k in trained}
        (_, (gstate, g_metrics)), g_grads = jax.value_and_grad(self.generator_objective, has_aux=True)(
            g_params, state.params, state.model_state, jax.random.normal(kg, (b, self.latent_dim)), h, eps(kg1),
            eps(kg2), stage2)
        for k in trained:
            state = state.apply_gradients(g_grads[k], player=k, model_state=gstate[k])
        return state, dict(metrics, **g_metrics, g_grad_norm=optax.global_norm(g_grads),
                           stage=jnp.asarray(2.0 if stage2 else 1.0))

    def train_step(self, state, batch, rng):
        x = self.preprocess(batch["x"])
        kc, ks = jax.random.split(rng)
        h = self.embed(state, self._pick_captions(jnp.asarray(batch["caption_tokens"], jnp.int32), kc))
        h_wrong = jnp.roll(h, 1, axis=0)
        return jax.lax.cond(state.step < self.stage1_steps,
                            lambda s: self._stage(s, x, h, h_wrong, ks, False),
                            lambda s: self._stage(s, x, h, h_wrong, ks, True), state)

    def render(self, state, z, cond, stage: int = 2):
        """Stage-II images (stage=2) or Stage-I images upsampled (bilinear) to the data's size (stage=1), in
        [-1, 1], CA at its mean (c = mu), EMA params when there are any."""
        if stage not in (1, 2):
            raise ValueError(f"stackgan renders stage 1 or 2, got {stage!r}")
        s0, s1, _, _ = self.stage_images(state.eval_params(), state.model_state, z, cond, None, None, False,
                                         stage == 2)
        if stage == 2:
            return s1
        b, _, _, c = s0.shape
        return jax.image.resize(s0, (b,) + self.image_shape[:2] + (c,), "bilinear")

    def _grids(self, state, batch):
        out = super()._grids(state, batch, stage=2)
        one = super()._grids(state, batch, stage=1)
        out.update({f"{k}_stage1": v for k, v in one.items()})
        return out

    def eval_step(self, state, batch, rng):
        """Per test example (its first caption): Stage-II's D on the real image and on a fresh Stage-II fake."""
        x = self.preprocess(batch["x"])
        h = self.embed(state, jnp.asarray(batch["caption_tokens"][:, 0], jnp.int32))
        fake = self.render(state, jax.random.normal(rng, (x.shape[0], self.latent_dim)), h)
        s_r, _ = self._run("d2", state.params, state.model_state, False, x, h)
        s_f, _ = self._run("d2", state.params, state.model_state, False, fake, h)
        return dict(d_loss=gan_losses.discriminator_minimax_loss(s_r, s_f), real_logit=s_r, fake_logit=s_f)

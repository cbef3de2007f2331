"""Text- and tag-conditioned GANs on the engine: GAN / GAN-CLS / GAN-INT / GAN-INT-CLS (Reed et al. 2016b) and
the anime-character GAN (Jin et al. 2017), on a captioned dataset (`gen_jax.data.captioned`).

**`text2image`** (config.model.variant: 'gan' | 'gan_cls' | 'gan_int' | 'gan_int_cls'). The condition is
phi(t), the embedding of one of the image's captions (drawn per example and step) by the FROZEN text encoder
of `gen_jax.text2image.encoder` (config.text_encoder: its settings and `path`; trained on first use and saved
there, loaded afterwards; its params ride in `state.extra['text_encoder']`). Per step (Reed et al. 2016b,
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

Both expose `conditional_sample(state, rng, batch)` for the `caption_attributes` evaluator
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
from gen_jax.text2image import evaluators  # noqa: F401  (registers the caption_attributes evaluator)
from gen_jax.text2image import losses
from gen_jax.text2image.models import (MatchingDiscriminator, SRResNetGenerator, TagDiscriminator,
                                       TextConditionedGenerator)

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
                         f"captioned dataset: captioned_mnist5k, captioned_digits)")


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

    def conditional_sample(self, state, rng, batch):
        """Images in [0, 1] for the conditions of `batch` ({'caption_tokens': [B, L], 'tags': [B, T]}), one z
        ~ N(0, I) each, with the EMA generator when there is one (batch norm in inference mode)."""
        cond = self.condition(state, batch)
        z = jax.random.normal(rng, (cond.shape[0], self.latent_dim))
        x, _ = self.generate(state.eval_params()["generator"], state.model_state["generator"], z, cond, False)
        return self.to_images01(x)

    # -- grids --------------------------------------------------------------------------------------------
    def _grid_batch(self):
        ex = self.example_batch(16, self.config.get("eval_split", "test"))
        return {"caption_tokens": jnp.asarray(ex["caption_tokens"][:, 0], jnp.int32),
                "tags": jnp.asarray(ex["tags"], jnp.float32)}

    def _grids(self, state, batch):
        params, gs = state.eval_params()["generator"], state.model_state["generator"]
        cond = self.condition(state, batch)                       # [16, dim]
        z = fixed_latents(self.config.seed, 8, self.latent_dim)
        rows = jnp.repeat(cond[:8], 8, axis=0)                    # row r: caption r, column j: z_j
        per_caption, _ = self.generate(params, gs, jnp.tile(z, (8, 1)), rows, False)
        beta = jnp.linspace(1.0, 0.0, 8)[None, :, None]           # row r: caption 2r -> caption 2r + 1
        walk = (beta * cond[0::2][:, None] + (1.0 - beta) * cond[1::2][:, None]).reshape(64, -1)
        zw = jnp.repeat(z, 8, axis=0)                             # one z per row
        interp, _ = self.generate(params, gs, zw, walk, False)
        return {"per_caption": self.to_images01(per_caption), "caption_interpolation": self.to_images01(interp)}

    def visualize(self, state, rng):
        """The grids of the module docstring, from fixed latents and the eval split's first 16 examples
        (`rng` is unused on purpose, so that grids at different steps are comparable)."""
        del rng
        return self._visualize(state, self._grid_batch())

    def grid_captions(self):
        """The captions of the grid rows, for the record (rows of per_caption; pairs of the interpolation)."""
        from gen_jax.data.captioned import detokenize

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
        te = dict(config.get("text_encoder", None) or {})
        path = te.pop("path", "")
        if hasattr(info, "name") and "dataset" not in te:
            te["dataset"] = info.name
        self.encoder = encoder_lib.text_encoder(te, path=path, data_dir=config.get("data_dir"))
        size, ch = self.image_shape[0], self.image_shape[-1]
        self.generator = TextConditionedGenerator(image_size=size, channels=ch, features=int(m.get("g_features", 64)),
                                                  proj_dim=int(m.get("proj_dim", 128)))
        self.discriminator = MatchingDiscriminator(image_size=size, features=int(m.get("d_features", 64)),
                                                   norm=m.get("d_norm", "batch"), proj_dim=int(m.get("proj_dim", 128)))

    def embed(self, state, tokens):
        return jax.lax.stop_gradient(self.encoder.module.apply({"params": state.extra["text_encoder"]}, tokens))

    def condition(self, state, batch):
        return self.embed(state, jnp.asarray(batch["caption_tokens"], jnp.int32))

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        e = self.encoder.settings["embed_dim"]
        z, h = jnp.zeros((2, self.latent_dim)), jnp.zeros((2, e))
        gp, gs = _split(self.generator.init(kg, z, h, train=False))
        dp, ds = _split(self.discriminator.init(kd, jnp.zeros((2,) + self.image_shape), h, train=False))
        return self.create_state({"generator": gp, "discriminator": dp}, rng, tx=self.optimizers(),
                                 model_state={"generator": gs, "discriminator": ds},
                                 extra={"text_encoder": jax.tree.map(jnp.asarray, self.encoder.params)})

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
        kc, kz, kg, ki = jax.random.split(rng, 4)
        h = self.embed(state, self._pick_captions(jnp.asarray(batch["caption_tokens"], jnp.int32), kc))
        h_other = jnp.roll(h, 1, axis=0)       # the caption of another image: mismatching, and GAN-INT's t2
        fake, _ = self.generate(state.params["generator"], state.model_state["generator"],
                                jax.random.normal(kz, (b, self.latent_dim)), h, True)
        grads, (ds, metrics) = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], state.model_state["discriminator"], x, jax.lax.stop_gradient(fake),
            h, h_other)
        metrics["d_grad_norm"] = optax.global_norm(grads)
        state = state.apply_gradients(grads, player="discriminator", model_state=ds)
        kz1, kz2 = jax.random.split(kg)
        h_int = losses.interpolate_embeddings(h, h_other, self.int_beta)
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

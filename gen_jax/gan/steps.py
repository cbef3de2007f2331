"""The two-player GAN step on the engine, eval and sample steps, and the registered `gan` Experiment.

One jitted train step (Goodfellow et al. 2014, Algorithm 1):
  repeat k = config.model.d_steps times:                       (a `lax.scan`, inside the same compiled step)
      z ~ N(0, I);  x_fake = G(z)                               (G's output is a constant for D's update)
      D <- D - Adam(grad_D [ mean L_D(D(x), D(x_fake)) + penalty ])
  z ~ N(0, I);  G <- G - Adam(grad_G mean L_G(D(G(z))))
with one optax optimizer per player (`state.tx = {'generator': ..., 'discriminator': ...}`), the players'
non-trainable collections (batch-norm statistics, spectral-norm vectors) in `state.model_state[player]`, and
the generator EMA kept by the engine (`config.ema_decay`; `state.eval_params()['generator']` samples).

Every k-th real batch is shared by the k discriminator updates of a step (the engine feeds one batch per
step); each update draws fresh latents. Penalties: 'gp' (WGAN-GP, lambda = model.gp_weight on random
interpolates), 'r1' (model.r1_gamma / 2 * ||grad D(x)||^2 on real data), evaluated with the discriminator in
inference mode (use d_norm 'layer' or 'none' with them: batch norm would make the per-example gradient depend
on the batch). PacGAN (model.pack = m): D sees m samples concatenated (`models.pack`), real with real and
fake with fake.

Config (config.model): arch, loss (minimax | nonsaturating | wgan_gp | hinge | least_squares), penalty
(default: the loss's own, 'gp' for wgan_gp, else 'none'), gp_weight, r1_gamma, d_steps, pack, latent_dim,
conditional, conditioning, d_conditioning, spectral_norm, widths (see `models.build_models`).
config.d_optim (optional) is the discriminator's optimizer; config.optim is the generator's (and D's when
d_optim is absent).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.core.visual import points_image
from gen_jax.gan import losses
from gen_jax.gan.models import build_models, pack
from gen_jax.nn.latent import fixed_latents, interpolate

PENALTIES = ("none", "gp", "r1")


class GAN:
    """The pure pieces of a GAN built from `config.model`: apply functions, losses and the two-player step.

    Everything here is a pure function of its arguments, so it can be jitted over a mesh by the engine or
    vmapped over a leading seed axis (experiments/gan_mode_coverage.py) with the same code.
    """

    def __init__(self, model_cfg, data_shape, num_levels, num_classes):
        m = model_cfg
        self.loss_name = m.get("loss", "nonsaturating")
        self.loss = losses.get_loss(self.loss_name)
        penalty = m.get("penalty", "default")
        self.penalty = self.loss.penalty if penalty in ("default", None, "") else penalty
        if self.penalty not in PENALTIES:
            raise ValueError(f"unknown model.penalty {self.penalty!r}; expected one of {PENALTIES}")
        self.gp_weight = float(m.get("gp_weight", 10.0))
        self.r1_gamma = float(m.get("r1_gamma", 10.0))
        self.d_steps = int(m.get("d_steps", 1))
        if self.d_steps < 1:
            raise ValueError(f"model.d_steps must be >= 1, got {self.d_steps}")
        self.pack = int(m.get("pack", 1))
        if self.pack < 1:
            raise ValueError(f"model.pack must be >= 1, got {self.pack}")
        self.latent_dim = int(m.get("latent_dim", 64))
        self.conditional = bool(m.get("conditional", False))
        if self.conditional and not num_classes:
            raise ValueError("model.conditional=True needs a dataset with classes")
        self.num_classes = int(num_classes or 0) if self.conditional else 0
        self.data_shape = tuple(data_shape)
        self.is_image = len(self.data_shape) == 3
        self.num_levels = num_levels
        if self.is_image and not num_levels:
            raise ValueError("image GANs need discrete data with a known number of levels (num_levels)")
        if self.penalty != "none" and m.get("arch", "mlp") == "dcgan" and m.get("d_norm", "batch") == "batch":
            raise ValueError(f"penalty {self.penalty!r} needs per-example discriminator gradients: set "
                             "model.d_norm to 'layer' or 'none' (batch norm mixes the examples of a batch)")
        self.generator, self.discriminator = build_models(m, self.data_shape, num_classes or 0)

    # -- data --------------------------------------------------------------------------------------------
    def preprocess(self, x):
        """Raw loader values -> the generator's output space: images to [-1, 1], 2-D points unchanged."""
        if self.is_image:
            from gen_jax.data import preprocess as pp

            return pp.center_pm1(x, self.num_levels)
        return jnp.asarray(x, jnp.float32)

    def to_images01(self, x):
        """Generator outputs (images in [-1, 1]) -> [0, 1] for grids and feature extractors."""
        return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)

    def sample_latent(self, rng, n):
        return jax.random.normal(rng, (n, self.latent_dim))

    # -- networks ----------------------------------------------------------------------------------------
    def init(self, rng):
        """(params, model_state) dicts keyed by player."""
        kg, kd = jax.random.split(rng)
        z = jnp.zeros((2 * self.pack, self.latent_dim))
        y = jnp.zeros((2 * self.pack,), jnp.int32) if self.num_classes else None
        gv = self.generator.init(kg, z, y, train=False)
        x = jnp.zeros((2 * self.pack,) + self.data_shape)
        dv = self.discriminator.init(kd, pack(x, self.pack), y, train=False)
        split = lambda v: (v["params"], {k: c for k, c in v.items() if k != "params"})
        (gp, gs), (dp, ds) = split(gv), split(dv)
        return {"generator": gp, "discriminator": dp}, {"generator": gs, "discriminator": ds}

    @staticmethod
    def _apply(module, params, state, train, *args):
        variables = {"params": params, **state}
        if train and state:
            out, new = module.apply(variables, *args, train=True, mutable=list(state))
            return out, dict(new)
        return module.apply(variables, *args, train=train), state

    def generate(self, params, state, z, y=None, train=False):
        """G(z, y) -> (samples in data space, updated generator collections)."""
        return self._apply(self.generator, params, state, train, z, y)

    def discriminate(self, params, state, x, y=None, train=True):
        """D on packed inputs -> ([B / pack] logits, updated discriminator collections)."""
        return self._apply(self.discriminator, params, state, train, pack(x, self.pack), y)

    def _critic(self, params, state):
        """D as a function of already-packed inputs (inference mode) for the input-gradient penalties."""
        def f(xp, *y):
            return self.discriminator.apply({"params": params, **state}, xp, *(y or (None,)), train=False)
        return f

    # -- the two-player step -----------------------------------------------------------------------------
    def discriminator_loss(self, d_params, d_state, real, fake, y, rng):
        """mean L_D + penalty, and (new D collections, metrics)."""
        real_logits, d_state = self.discriminate(d_params, d_state, real, y, train=True)
        fake_logits, d_state = self.discriminate(d_params, d_state, fake, y, train=True)
        loss = jnp.mean(self.loss.discriminator(real_logits, fake_logits))
        aux = (y,) if self.num_classes else ()
        critic = self._critic(d_params, d_state)
        if self.penalty == "gp":
            pen = self.gp_weight * jnp.mean(losses.gradient_penalty(
                critic, pack(real, self.pack), pack(fake, self.pack), rng, aux=aux))
        elif self.penalty == "r1":
            pen = 0.5 * self.r1_gamma * jnp.mean(losses.r1_penalty(critic, pack(real, self.pack), aux=aux))
        else:
            pen = jnp.zeros(())
        metrics = dict(d_loss=loss, penalty=pen, real_logit=jnp.mean(real_logits),
                       fake_logit=jnp.mean(fake_logits))
        return loss + pen, (d_state, metrics)

    def generator_loss(self, g_params, g_state, d_params, d_state, z, y):
        """mean L_G(D(G(z))); D runs in training mode (batch statistics) but its collections are not kept."""
        fake, g_state = self.generate(g_params, g_state, z, y, train=True)
        logits, _ = self.discriminate(d_params, d_state, fake, y, train=True)
        return jnp.mean(self.loss.generator(logits)), g_state

    def train_step(self, state: TrainState, batch, rng):
        """k discriminator updates, then one generator update. Pure; see the module docstring."""
        x = self.preprocess(batch["x"])
        y = jnp.asarray(batch["label"], jnp.int32) if self.num_classes else None
        b = x.shape[0]
        if b % self.pack:
            raise ValueError(f"batch size {b} is not divisible by model.pack={self.pack}")
        rng_d, rng_g = jax.random.split(rng)

        def d_update(st, i):
            kz, kp = jax.random.split(jax.random.fold_in(rng_d, i))
            fake, _ = self.generate(st.params["generator"], st.model_state["generator"],
                                    self.sample_latent(kz, b), y, train=True)
            fake = jax.lax.stop_gradient(fake)
            grad_fn = jax.grad(self.discriminator_loss, has_aux=True)
            grads, (d_state, metrics) = grad_fn(st.params["discriminator"], st.model_state["discriminator"],
                                                x, fake, y, kp)
            metrics["d_grad_norm"] = optax.global_norm(grads)
            return st.apply_gradients(grads, player="discriminator", model_state=d_state), metrics

        state, d_metrics = jax.lax.scan(d_update, state, jnp.arange(self.d_steps))
        d_metrics = jax.tree.map(lambda v: v[-1], d_metrics)

        z = self.sample_latent(rng_g, b)
        (g_loss, g_state), g_grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
            state.params["generator"], state.model_state["generator"], state.params["discriminator"],
            state.model_state["discriminator"], z, y)
        state = state.apply_gradients(g_grads, player="generator", model_state=g_state)
        return state, dict(d_metrics, g_loss=g_loss, g_grad_norm=optax.global_norm(g_grads))

    def make_state(self, rng, config):
        params, model_state = self.init(rng)
        g_tx = make_optimizer(config.optim)
        d_tx = make_optimizer(config.d_optim) if config.get("d_optim") else make_optimizer(config.optim)
        return TrainState.create(params=params, tx={"generator": g_tx, "discriminator": d_tx}, rng=rng,
                                 model_state=model_state, ema_decay=config.get("ema_decay") or None)

    def sample(self, state: TrainState, z, y=None, use_ema=True, batch_stats=False):
        """Generator samples in data space from latents z, with the EMA params if any.

        batch_stats=False uses batch norm's running averages (inference mode); True normalises with the
        statistics of this latent batch (training mode, nothing stored), exact for large batches.
        """
        params = state.eval_params() if use_ema else state.params
        out, _ = self.generate(params["generator"], state.model_state["generator"], z, y, train=batch_stats)
        return out


@register("gan")
class GANExperiment(Experiment):
    """GANs on the engine: MLP or DCGAN players, any loss of `gan.losses`, conditional and packed variants."""

    def __init__(self, config, info):
        super().__init__(config, info)
        self.gan = GAN(config.model, info.shape, info.num_levels, info.num_classes)
        self._visualize = jax.jit(self._grids)   # once per experiment (a static `self` would pin it in jit caches)

    def init_state(self, rng, batch):
        return self.gan.make_state(rng, self.config)

    def train_step(self, state, batch, rng):
        return self.gan.train_step(state, batch, rng)

    def eval_step(self, state, batch, rng):
        """Per test example: D's loss against a fresh fake of the same label, and D's outputs on both."""
        g = self.gan
        x = g.preprocess(batch["x"])
        y = jnp.asarray(batch["label"], jnp.int32) if g.num_classes else None
        b = x.shape[0]
        fake = g.sample(state, g.sample_latent(rng, b), y)
        real_l, _ = g.discriminate(state.params["discriminator"], state.model_state["discriminator"], x, y,
                                   train=False)
        fake_l, _ = g.discriminate(state.params["discriminator"], state.model_state["discriminator"], fake, y,
                                   train=False)
        rep = lambda v: jnp.repeat(v, g.pack)  # packed D values back to one per example
        return dict(d_loss=rep(g.loss.discriminator(real_l, fake_l)), real_logit=rep(real_l),
                    fake_logit=rep(fake_l))

    def _grids(self, state):
        g = self.gan
        n = int(self.config.num_samples)
        z = fixed_latents(self.config.seed, n, g.latent_dim)
        if not g.is_image:
            z = fixed_latents(self.config.seed, 2500, g.latent_dim)
            y = (jnp.arange(2500) % g.num_classes) if g.num_classes else None
            return {"samples": points_image(g.sample(state, z, y), -5.0, 5.0)}
        out = {}
        if g.num_classes:
            per = max(1, n // g.num_classes)
            zc = jnp.tile(fixed_latents(self.config.seed, per, g.latent_dim), (g.num_classes, 1))
            yc = jnp.repeat(jnp.arange(g.num_classes), per)   # row c of the grid is class c, same z per column
            out["per_class"] = g.to_images01(g.sample(state, zc, yc))
            y = jnp.arange(n) % g.num_classes
        else:
            y = None
        out["samples"] = g.to_images01(g.sample(state, z, y))
        # latent walks (Radford et al. 2015, Sec. 6.1): 8 rows, each a slerp between two fixed latents
        ends = fixed_latents(self.config.seed + 1, 16, g.latent_dim)
        walk = jax.vmap(lambda a, b: interpolate(a, b, 8, spherical=True))(ends[:8], ends[8:])
        yw = jnp.repeat(jnp.arange(8) % g.num_classes, 8) if g.num_classes else None
        out["interpolation"] = g.to_images01(g.sample(state, walk.reshape(64, g.latent_dim), yw))
        return out

    def sample(self, state, rng, num, labels=None):
        """Generator samples from z ~ N(0, I) (EMA generator when there is one): images in [0, 1], points as
        generated. A conditional GAN needs `labels`."""
        g = self.gan
        if g.num_classes and labels is None:
            raise ValueError("a conditional GAN samples given labels: pass labels=[num] class ids")
        x = g.sample(state, g.sample_latent(rng, int(num)), labels)
        return g.to_images01(x) if g.is_image else x

    def visualize(self, state, rng):
        """Sample grids from a FIXED latent batch (seeded by config.seed; `rng` is unused on purpose), so
        grids at different steps show the same z. 2-D data: a density image of 2,500 samples on [-5, 5]^2."""
        del rng
        return self._visualize(state)

"""DDPM / DDIM train, eval and sample steps on the engine (`config.experiment = 'diffusion'`).

Data conventions:
  * images (digits, mnist5k, ...): raw levels k in 0..K-1 become y = 2 k / (K - 1) - 1 in [-1, 1]
    (`preprocess.center_pm1`); samples are clipped to [-1, 1] at every step (x0_hat clipping).
  * 2-D points: x / model.data_scale (so that the data have roughly unit scale, like the noise); no clipping.

Training minimises L_simple (Ho et al. 2020, Eq. 14; model.loss='simple') or the one-sample estimate of the full
variational bound (model.loss='vlb', in nats per dimension). A class-conditional model (model.conditional)
drops the label to the null class with probability model.p_uncond so that one network also learns
p(x), which classifier-free guidance needs (Ho & Salimans 2021).

Evaluation (images): the test NLL bound under the common protocol (`gen_jax.metrics.likelihood`). The
discretized Gaussian decoder over the K levels makes L_vlb an upper bound on -log P(x) of the discrete images,
reported in nats per image (nll_nats) and bits per dimension (nll_bpd), with
  model.eval_vlb = 'full':     every one of the T terms (T network calls per image, exact sum),
                   'estimate': L_T + T L_t with model.eval_vlb_samples random t per image (unbiased),
                   'none':     only the simple loss.
A conditional model is evaluated with the null label, i.e. the bound is on -log p(x), comparable with the
unconditional models. All evaluation and sampling use the EMA parameters when config.ema_decay > 0.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.experiment import Experiment, register
from gen_jax.core.visual import points_image
from gen_jax.data import preprocess as pp
from gen_jax.diffusion import losses, samplers
from gen_jax.diffusion import schedules as sch
from gen_jax.diffusion.models import init_params, make_model
from gen_jax.metrics.likelihood import bits_per_dim

EVAL_VLB = ("none", "estimate", "full")


@register("diffusion")
class DiffusionExperiment(Experiment):
    """Denoising diffusion (DDPM training; DDPM and DDIM sampling) with an MLP or a U-Net."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.is_image = len(info.shape) == 3
        if self.is_image and info.num_levels is None:
            raise ValueError(f"diffusion on images needs discrete levels; {info.name!r} has num_levels=None")
        self.num_levels = int(info.num_levels) if self.is_image else None
        self.conditional = bool(m.get("conditional", False))
        if self.conditional and not info.num_classes:
            raise ValueError(f"model.conditional=True needs a labelled dataset; {info.name!r} has no classes")
        self.num_classes = int(info.num_classes) if self.conditional else 0
        self.model = make_model(m, self.num_classes or None)
        sched_kwargs = {}
        if m.get("schedule", "linear") == "linear":   # beta_start / beta_end set the linear schedule's end points
            sched_kwargs = {k: float(m[k]) for k in ("beta_start", "beta_end") if m.get(k, None) is not None}
        self.schedule = sch.make_schedule(m.get("schedule", "linear"), int(m.get("num_steps", 1000)), **sched_kwargs)
        self.parameterization = m.get("parameterization", "eps")
        if self.parameterization not in sch.PARAMETERIZATIONS:
            raise ValueError(f"unknown model.parameterization {self.parameterization!r}; "
                             f"expected one of {sch.PARAMETERIZATIONS}")
        self.loss_kind = m.get("loss", "simple")
        if self.loss_kind not in ("simple", "vlb"):
            raise ValueError(f"unknown model.loss {self.loss_kind!r}; expected 'simple' or 'vlb'")
        if self.loss_kind == "vlb" and not self.is_image:
            raise ValueError("model.loss='vlb' needs discrete images (the bound's decoder is discretized)")
        self.variance = m.get("variance", "small")
        self.eval_vlb = m.get("eval_vlb", "estimate" if self.is_image else "none")
        if self.eval_vlb not in EVAL_VLB:
            raise ValueError(f"unknown model.eval_vlb {self.eval_vlb!r}; expected one of {EVAL_VLB}")
        if self.eval_vlb != "none" and not self.is_image:
            raise ValueError("model.eval_vlb needs discrete images; use 'none' for 2-D points")
        self.clip = bool(m.get("clip_denoised", self.is_image))
        self.data_scale = float(m.get("data_scale", 1.0))
        self.num_dims = int(np.prod(info.shape))
        # Compiled once per experiment (n, sampler, steps, eta and guidance static), not as a method jitted on a
        # static `self`, which would keep every experiment alive in jax's global caches.
        self._sample = jax.jit(self._sample_impl, static_argnums=(2, 3, 4, 5, 6))

    # -- data ------------------------------------------------------------------------------------------
    def prepare(self, x):
        """Raw loader values -> model space ([-1, 1] images or rescaled points)."""
        if self.is_image:
            return pp.center_pm1(x, self.num_levels)
        return jnp.asarray(x, jnp.float32) / self.data_scale

    def unprepare(self, y):
        """Model space -> images in [0, 1] or points in data units."""
        if self.is_image:
            return pp.from_pm1(jnp.clip(y, -1.0, 1.0))
        return y * self.data_scale

    def vlb_kwargs(self):
        return dict(parameterization=self.parameterization, variance=self.variance,
                    num_levels=self.num_levels, clip_denoised=self.clip)

    # -- the network as a denoise_fn ---------------------------------------------------------------------
    def denoise_fn(self, params, labels=None, train=False, rng=None):
        """(x_t, t) -> network output, closed over params (and labels; the null class when None)."""
        rngs = {"dropout": rng} if (train and rng is not None) else None

        def fn(x, t):
            y = None
            if self.conditional:
                y = labels if labels is not None else jnp.full((x.shape[0],), self.num_classes, jnp.int32)
            return self.model.apply({"params": params}, x, t, y, train, rngs=rngs)

        return fn

    def cond_fn(self, params):
        """(x_t, t, labels) -> output, for classifier-free guidance."""
        return lambda x, t, y: self.model.apply({"params": params}, x, t, y, False)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        x = jnp.zeros((1,) + tuple(self.info.shape), jnp.float32)
        t = jnp.zeros((1,), jnp.int32)
        y = jnp.zeros((1,), jnp.int32) if self.conditional else None
        params = init_params(self.model, rng, x, t, y)["params"]
        return self.create_state(params, rng)

    def _train_labels(self, batch, rng):
        if not self.conditional:
            return None
        y = jnp.asarray(batch["label"], jnp.int32)
        drop = jax.random.bernoulli(rng, self.config.model.get("p_uncond", 0.1), y.shape)
        return jnp.where(drop, self.num_classes, y)

    def train_step(self, state, batch, rng):
        r_label, r_loss, r_drop = jax.random.split(rng, 3)
        x0 = self.prepare(batch["x"])
        labels = self._train_labels(batch, r_label)

        def loss_fn(params):
            fn = self.denoise_fn(params, labels, train=True, rng=r_drop)
            if self.loss_kind == "simple":
                per_example = losses.simple_loss(fn, self.schedule, x0, r_loss, self.parameterization)
            else:
                per_example = losses.vlb_estimate(fn, self.schedule, x0, r_loss, **self.vlb_kwargs()) / self.num_dims
            return jnp.mean(per_example)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        state = state.apply_gradients(grads)
        return state, dict(loss=loss, grad_norm=optax.global_norm(grads))

    def eval_step(self, state, batch, rng):
        params = state.eval_params()
        r_simple, r_vlb = jax.random.split(rng)
        x0 = self.prepare(batch["x"])
        fn = self.denoise_fn(params)
        out = dict(loss=losses.simple_loss(fn, self.schedule, x0, r_simple, self.parameterization))
        if self.eval_vlb == "full":
            terms = losses.full_vlb(fn, self.schedule, x0, r_vlb, **self.vlb_kwargs())
            nll = terms["total"]
            out.update(prior_nats=terms["prior"], decoder_nats=terms["decoder"], diffusion_nats=terms["diffusion"])
        elif self.eval_vlb == "estimate":
            k = int(self.config.model.get("eval_vlb_samples", 8))
            keys = jax.random.split(r_vlb, k)
            nll = jax.lax.map(lambda key: losses.vlb_estimate(fn, self.schedule, x0, key, **self.vlb_kwargs()),
                              keys).mean(0)
        else:
            return out
        out.update(nll_nats=nll, nll_bpd=bits_per_dim(nll, self.num_dims))
        return out

    # -- sampling ----------------------------------------------------------------------------------------
    def _sample_impl(self, params, rng, n, sampler, steps, eta, guidance, labels):
        shape = (n,) + tuple(self.info.shape)
        if self.conditional and labels is not None:
            fn = samplers.classifier_free_guidance(self.cond_fn(params), jnp.asarray(labels, jnp.int32),
                                                   self.num_classes, guidance)
        else:
            fn = self.denoise_fn(params)
        if sampler == "ddpm":
            y = samplers.ddpm_sample(fn, self.schedule, rng, shape, parameterization=self.parameterization,
                                     variance=self.variance, clip_denoised=self.clip)
        elif sampler == "ddim":
            y = samplers.ddim_sample(fn, self.schedule, rng, shape, num_sample_steps=steps, eta=eta,
                                     parameterization=self.parameterization, clip_denoised=self.clip)
        else:
            raise ValueError(f"unknown sampler {sampler!r}; expected 'ddpm' or 'ddim'")
        return self.unprepare(y)

    def sample(self, state, rng, num, labels=None, sampler: str = "ddpm", steps: int = 0, eta: float = 0.0,
               guidance: float = 0.0):
        """The evaluator hook: `generate` with the EMA parameters (images in [0, 1], points in data units)."""
        if labels is not None:
            labels = [int(v) for v in np.asarray(labels)]
        return self.generate(state.eval_params(), rng, int(num), sampler, steps, eta, guidance, labels)

    def generate(self, params, rng, n: int, sampler: str = "ddpm", steps: int = 0, eta: float = 0.0,
                 guidance: float = 0.0, labels=None):
        """n samples in data units (images in [0, 1]); DDIM uses `steps` steps (0: model.ddim_steps).

        For a conditional model, `labels` (a tuple of n ints) selects classes and `guidance` is the
        classifier-free guidance weight w; without labels it samples p(x) through the null class.
        """
        steps = int(steps or self.config.model.get("ddim_steps", 50))
        labels = tuple(int(v) for v in labels) if labels is not None else None
        return self._sample(params, rng, int(n), sampler, steps, float(eta), float(guidance), labels)

    def visualize(self, state, rng):
        params = state.eval_params()
        n = int(self.config.num_samples)
        if n <= 0:
            return {}
        r1, r2 = jax.random.split(rng)
        m = self.config.model
        labels = tuple(i % self.num_classes for i in range(n)) if self.conditional else None
        g = float(m.get("guidance_scale", 0.0))
        ddpm = self.generate(params, r1, n, "ddpm", guidance=g, labels=labels)
        ddim = self.generate(params, r2, n, "ddim", eta=float(m.get("ddim_eta", 0.0)), guidance=g, labels=labels)
        if self.is_image:
            return {"ddpm": ddpm, f"ddim{int(m.get('ddim_steps', 50))}": ddim}
        lim = float(m.get("plot_range", 1.5))
        return {"ddpm": points_image(ddpm, -lim, lim, size=96),
                f"ddim{int(m.get('ddim_steps', 50))}": points_image(ddim, -lim, lim, size=96)}

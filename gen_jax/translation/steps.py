"""Image-to-image translation on the engine: the registered `pix2pix`, `cyclegan` and `discogan` Experiments,
and the `translation` evaluator (classifier accuracy of translated images, cycle reconstruction error).

**Pix2Pix** (Isola et al. 2017), paired data (config.dataset with features model.source -> model.target,
e.g. edges2digits 'edges' -> 'x'). One jitted step:
    y_fake = G(x, z)                                   (z: the U-Net's dropout, one key per step)
    D <- Adam(grad_D mean (1/2)[-log D(x, y) - log(1 - D(x, sg(y_fake)))])      (PatchGAN on (x, y) pairs)
    G <- Adam(grad_G mean [gan_weight * -log D(x, G(x, z)) + l1_weight * |y - G(x, z)|])  (the updated D,
                                                                                         the same dropout)
gan_weight = 0 is the "L1 only" baseline of the paper's Table 1 (D is then not trained), l1_weight = 0 its
"cGAN only". The dropout stays on at test time (model.test_dropout, the paper's choice: the generator's noise).

**CycleGAN** (Zhu et al. 2017), two unpaired loaders A and B (`inputs()`: config.inputs, or A = config.dataset,
B = model.dataset_b, shuffled independently). Generators G: A -> B and F: B -> A, discriminators D_B (judges
B images) and D_A; one step:
    fake_B = G(a); fake_A = F(b)
    G, F <- Adam(grad mean [(D_B(fake_B) - 1)^2 + (D_A(fake_A) - 1)^2
                           + lambda (|F(fake_B) - a| + |G(fake_A) - b|)
                           + identity_weight lambda (|G(b) - b| + |F(a) - a|)])
    fake_B', fake_A' <- the history pools of 50 images (state.extra['pool_B'], ['pool_A'])
    D_B, D_A <- Adam(grad mean (1/2)[(D_B(b) - 1)^2 + D_B(fake_B')^2] + (same for D_A))
with lambda = model.cycle_weight = 10, identity_weight = 0.5, and the learning rate constant for the first
optim.decay_start steps and then decaying linearly to 0 at optim.num_steps (optim.schedule='linear_decay').

**DiscoGAN** (Kim et al. 2017): the same two-domain loop with encoder-decoder generators, the standard GAN
loss, squared-distance reconstruction losses for both cycles (no identity loss, no pool), and both
discriminators trained on the current fakes.

Images are mapped to [-1, 1] (their levels) for the networks and back to [0, 1] for metrics and grids.
Parameters are grouped by optimizer: {'generator', 'discriminator'} for Pix2Pix; {'generators':
{'G_AB', 'G_BA'}, 'discriminators': {'D_A', 'D_B'}} for the two-domain models (one Adam over both nets of a
group, as the authors' code chains their parameters).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import SplitMean, register_evaluator
from gen_jax.core.experiment import Experiment, Input, register
from gen_jax.core.optim import make_optimizer
from gen_jax.data import preprocess as pp
from gen_jax.translation import losses, models


def linear_decay_schedule(cfg):
    """Zhu et al. 2017, Sec. 7.1: cfg.learning_rate for the first cfg.decay_start steps, then linearly to 0 at
    cfg.num_steps."""
    total, start = int(cfg.get("num_steps", 0) or 0), int(cfg.get("decay_start", 0) or 0)
    if not 0 <= start < total:
        raise ValueError(f"optim.schedule='linear_decay' needs 0 <= optim.decay_start < optim.num_steps, got "
                         f"decay_start={start}, num_steps={total}")
    lr = float(cfg.learning_rate)
    return optax.join_schedules([optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, total - start)],
                                [start])


def make_translation_optimizer(cfg):
    """`make_optimizer(cfg)`, plus schedule 'linear_decay' (`linear_decay_schedule`) for Adam."""
    if cfg.get("schedule", "constant") != "linear_decay":
        return make_optimizer(cfg)
    if cfg.get("name", "adam") != "adam":
        raise ValueError(f"optim.schedule='linear_decay' is implemented for adam, got optim.name={cfg.name!r}")
    return optax.adam(linear_decay_schedule(cfg), b1=cfg.get("b1", 0.9), b2=cfg.get("b2", 0.999),
                      eps=cfg.get("eps", 1e-8))


def _levels(info, feature, where):
    if feature not in info.features:
        raise ValueError(f"{where}: dataset {info.name!r} has no feature {feature!r} ({', '.join(info.features)})")
    f = info.features[feature]
    if f.kind != "levels" or not f.num_levels or len(f.shape) != 3:
        raise ValueError(f"{where}: feature {feature!r} of {info.name!r} must be an image of integer levels "
                         f"[H, W, C], got kind {f.kind!r} shape {tuple(f.shape)}")
    return int(f.num_levels), tuple(f.shape)


def to01(x):
    """Network outputs in [-1, 1] -> images in [0, 1]."""
    return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


def _split(variables):
    return variables["params"]


class _Translation(Experiment):
    """Shared helpers: optimizers per group, grids of fixed test examples."""

    def _grid_rows(self, rows):
        """[rows of N images] -> one [R * N, H, W, C] batch (grey rows tiled to the widest channel count)."""
        c = max(r.shape[-1] for r in rows)
        return jnp.concatenate([jnp.tile(r, (1, 1, 1, c // r.shape[-1])) for r in rows])

    def _arrays(self, dataset, feature, n):
        from gen_jax.data import load_arrays

        cache = self.__dict__.setdefault("_grid_arrays", {})
        key = (dataset, feature, n)
        if key not in cache:
            split = self.config.get("eval_split", "test")
            cache[key] = np.asarray(load_arrays(dataset, split, data_dir=self.config.get("data_dir"),
                                                features=(feature,))[feature][:n])
        return cache[key]


@register("pix2pix")
class Pix2Pix(_Translation):
    """Pix2Pix on a paired dataset: model.source -> model.target (see the module docstring)."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if info is None:
            raise ValueError("pix2pix needs config.dataset: a paired dataset (e.g. edges2digits)")
        self.source, self.target = m.get("source", "edges"), m.get("target", "x")
        self.src_levels, self.src_shape = _levels(info, self.source, "pix2pix model.source")
        self.tgt_levels, self.tgt_shape = _levels(info, self.target, "pix2pix model.target")
        if self.src_shape[:2] != self.tgt_shape[:2]:
            raise ValueError(f"pix2pix: source {self.source!r} {self.src_shape} and target {self.target!r} "
                             f"{self.tgt_shape} differ in size")
        self.l1_weight = float(m.get("l1_weight", 100.0))
        self.gan_weight = float(m.get("gan_weight", 1.0))
        if self.l1_weight < 0 or self.gan_weight < 0 or self.l1_weight + self.gan_weight == 0:
            raise ValueError(f"pix2pix: l1_weight={self.l1_weight} and gan_weight={self.gan_weight} must be >= 0 "
                             "and not both 0")
        self.test_dropout = bool(m.get("test_dropout", True))
        self.generator = models.build_generator(m.generator, self.tgt_shape[-1])
        self.discriminator = models.build_discriminator(m.discriminator)
        self._visualize = jax.jit(self._grids)

    # -- networks ------------------------------------------------------------------------------------------
    def prepare(self, batch):
        return (pp.center_pm1(batch[self.source], self.src_levels),
                pp.center_pm1(batch[self.target], self.tgt_levels))

    def generate(self, g_params, x, rng, dropout=True):
        return self.generator.apply({"params": g_params}, x, dropout=dropout, rngs={"dropout": rng})

    def discriminate(self, d_params, x, y):
        return self.discriminator.apply({"params": d_params}, jnp.concatenate([x, y], axis=-1))

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        x = jnp.zeros((1,) + self.src_shape)
        y = jnp.zeros((1,) + self.tgt_shape)
        params = {"generator": _split(self.generator.init(kg, x)),
                  "discriminator": _split(self.discriminator.init(kd, jnp.concatenate([x, y], -1)))}
        d_cfg = self.config.get("d_optim") or self.config.optim
        tx = {"generator": make_translation_optimizer(self.config.optim), "discriminator": make_translation_optimizer(d_cfg)}
        return self.create_state(params, rng, tx=tx)

    # -- the step ----------------------------------------------------------------------------------------------
    def d_loss(self, d_params, x, y, fake):
        real_l = self.discriminate(d_params, x, y)
        fake_l = self.discriminate(d_params, x, fake)
        loss = jnp.mean(losses.pix2pix_discriminator_loss(real_l, fake_l))
        return loss, dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real_l)),
                          d_fake=jnp.mean(jax.nn.sigmoid(fake_l)))

    def g_loss(self, g_params, d_params, x, y, rng):
        fake = self.generate(g_params, x, rng)
        if self.gan_weight > 0:
            logits = self.discriminate(d_params, x, fake)
        else:
            logits = jnp.zeros((x.shape[0], 1))
        total, adv, l1 = losses.pix2pix_generator_loss(logits, fake, y, self.l1_weight, self.gan_weight)
        return jnp.mean(total), dict(g_loss=jnp.mean(total), g_adv=jnp.mean(adv), g_l1=jnp.mean(l1))

    def train_step(self, state, batch, rng):
        x, y = self.prepare(batch)
        metrics = {}
        if self.gan_weight > 0:
            fake = jax.lax.stop_gradient(self.generate(state.params["generator"], x, rng))
            grads, metrics = jax.grad(self.d_loss, has_aux=True)(state.params["discriminator"], x, y, fake)
            metrics["d_grad_norm"] = optax.global_norm(grads)
            state = state.apply_gradients(grads, player="discriminator")
        grads, g_metrics = jax.grad(self.g_loss, has_aux=True)(state.params["generator"],
                                                               state.params["discriminator"], x, y, rng)
        state = state.apply_gradients(grads, player="generator")
        return state, dict(metrics, **g_metrics, g_grad_norm=optax.global_norm(grads))

    # -- evaluation ------------------------------------------------------------------------------------------
    def translate(self, state, batch, rng, direction="AB"):
        """G(source) as images in [0, 1] (with the dropout noise when model.test_dropout)."""
        if direction != "AB":
            raise ValueError(f"pix2pix translates one way (direction 'AB'), got {direction!r}")
        x = pp.center_pm1(batch[self.source], self.src_levels)
        return to01(self.generate(state.eval_params()["generator"], x, rng, dropout=self.test_dropout))

    def reconstruct(self, state, batch, rng):
        """{'output': G(source), 'target': the paired target} in [0, 1], for the `reconstruction` evaluator."""
        return {"output": self.translate(state, batch, rng),
                "target": pp.scale01(batch[self.target], self.tgt_levels)}

    def eval_step(self, state, batch, rng):
        """Per test pair: L1 in [0, 1] units, the generator's adversarial loss and D's loss on (real, fake)."""
        x, y = self.prepare(batch)
        p = state.eval_params()
        fake = self.generate(p["generator"], x, rng, dropout=self.test_dropout)
        real_l, fake_l = self.discriminate(p["discriminator"], x, y), self.discriminate(p["discriminator"], x, fake)
        return dict(l1=losses.l1_distance(to01(fake), to01(y)),
                    g_adv=losses.patch_mean(losses.gan_losses.generator_nonsaturating_loss, fake_l),
                    d_loss=losses.pix2pix_discriminator_loss(real_l, fake_l))

    def _grids(self, state, x, y):
        n = x.shape[0]
        out = [self.translate(state, {self.source: x}, jax.random.fold_in(jax.random.PRNGKey(self.config.seed), i))
               for i in range(2)]
        rows = [pp.scale01(x, self.src_levels), *out, pp.scale01(y, self.tgt_levels)]
        del n
        return {"translations": self._grid_rows(rows)}

    def visualize(self, state, rng):
        """Rows: 8 fixed test sources, two translations (two dropout draws), the targets."""
        del rng
        x = self._arrays(self.config.dataset, self.source, 8)
        y = self._arrays(self.config.dataset, self.target, 8)
        return self._visualize(state, x, y)


@register("cyclegan")
class CycleGAN(_Translation):
    """CycleGAN on two unpaired loaders A and B (see the module docstring)."""

    has_identity_and_pool = True
    discriminator_pair_loss = losses.lsgan_discriminator_loss  # per-example D loss on (real, fake) logits

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if not self.has_identity_and_pool:
            for key in ("identity_weight", "pool_size"):
                if float(m.get(key, 0) or 0) != 0:
                    raise ValueError(f"{self.name} has no {key.split('_')[0]} (leave model.{key} out or set it to 0)")
        self.feature_a, self.feature_b = m.get("feature_a", "x"), m.get("feature_b", "x")
        self.levels_a, self.shape_a = _levels(self.input_info("A"), self.feature_a, f"{self.name} domain A")
        self.levels_b, self.shape_b = _levels(self.input_info("B"), self.feature_b, f"{self.name} domain B")
        if self.shape_a[:2] != self.shape_b[:2]:
            raise ValueError(f"{self.name}: domains A {self.shape_a} and B {self.shape_b} differ in size")
        self.cycle_weight = float(m.get("cycle_weight", 10.0))
        self.identity_weight = float(m.get("identity_weight", 0.5)) if self.has_identity_and_pool else 0.0
        if self.identity_weight > 0 and self.shape_a != self.shape_b:
            raise ValueError(f"{self.name}: the identity loss feeds G: A -> B an image of B, which needs the same "
                             f"shape in both domains (A {self.shape_a}, B {self.shape_b}): set "
                             "model.identity_weight=0")
        self.pool_size = int(m.get("pool_size", 50)) if self.has_identity_and_pool else 0
        self.g_ab = models.build_generator(m.generator, self.shape_b[-1])
        self.g_ba = models.build_generator(m.generator, self.shape_a[-1])
        self.d_a = models.build_discriminator(m.discriminator)
        self.d_b = models.build_discriminator(m.discriminator)
        self._visualize = jax.jit(self._grids)

    def inputs(self):
        spec = self.config.get("inputs", None)
        if spec is not None:
            out = super().inputs()
            if set(out) != {"A", "B"}:
                raise ValueError(f"{self.name}: config.inputs must name the loaders 'A' and 'B', got {sorted(out)}")
            return out
        b = self.config.model.get("dataset_b", "")
        if not b:
            raise ValueError(f"{self.name}: set model.dataset_b (domain B; domain A is config.dataset) or "
                             "config.inputs = {A: {...}, B: {...}}")
        return {"A": Input(dataset=self.config.dataset), "B": Input(dataset=b)}

    # -- networks ------------------------------------------------------------------------------------------
    def _g(self, name):
        return self.g_ab if name == "G_AB" else self.g_ba

    def generate(self, g_params, name, x, rng=None):
        module = self._g(name)
        if isinstance(module, models.i2i.UNetGenerator):
            return module.apply({"params": g_params[name]}, x, dropout=rng is not None,
                                rngs={"dropout": rng} if rng is not None else {})
        return module.apply({"params": g_params[name]}, x)

    def discriminate(self, d_params, name, x):
        return (self.d_a if name == "D_A" else self.d_b).apply({"params": d_params[name]}, x)

    def init_state(self, rng, batch):
        k1, k2, k3, k4 = jax.random.split(rng, 4)
        a, b = jnp.zeros((1,) + self.shape_a), jnp.zeros((1,) + self.shape_b)
        params = {"generators": {"G_AB": _split(self.g_ab.init(k1, a)), "G_BA": _split(self.g_ba.init(k2, b))},
                  "discriminators": {"D_A": _split(self.d_a.init(k3, a)), "D_B": _split(self.d_b.init(k4, b))}}
        d_cfg = self.config.get("d_optim") or self.config.optim
        tx = {"generators": make_translation_optimizer(self.config.optim),
              "discriminators": make_translation_optimizer(d_cfg)}
        extra = self.init_extra()
        return self.create_state(params, rng, tx=tx, extra=extra)

    def init_extra(self):
        if self.pool_size == 0:
            return None                    # no pools (DiscoGAN, or CycleGAN with model.pool_size=0)
        return {"pool_A": models.pool_init(self.pool_size, self.shape_a),
                "pool_B": models.pool_init(self.pool_size, self.shape_b)}

    def prepare(self, batch):
        return (pp.center_pm1(batch["A"][self.feature_a], self.levels_a),
                pp.center_pm1(batch["B"][self.feature_b], self.levels_b))

    # -- losses ---------------------------------------------------------------------------------------------
    def g_loss(self, g_params, d_params, a, b, rng):
        k1, k2, k3, k4 = jax.random.split(rng, 4) if rng is not None else (None,) * 4
        fake_b = self.generate(g_params, "G_AB", a, k1)
        fake_a = self.generate(g_params, "G_BA", b, k2)
        rec_a = self.generate(g_params, "G_BA", fake_b, k3)
        rec_b = self.generate(g_params, "G_AB", fake_a, k4)
        adv_ab = losses.lsgan_generator_loss(self.discriminate(d_params, "D_B", fake_b))
        adv_ba = losses.lsgan_generator_loss(self.discriminate(d_params, "D_A", fake_a))
        cyc_a, cyc_b = losses.cycle_loss(a, rec_a), losses.cycle_loss(b, rec_b)
        total = adv_ab + adv_ba + self.cycle_weight * (cyc_a + cyc_b)
        metrics = dict(g_adv_ab=jnp.mean(adv_ab), g_adv_ba=jnp.mean(adv_ba), cycle_a=jnp.mean(cyc_a),
                       cycle_b=jnp.mean(cyc_b))
        if self.identity_weight > 0:
            idt_b = losses.identity_loss(b, self.generate(g_params, "G_AB", b))
            idt_a = losses.identity_loss(a, self.generate(g_params, "G_BA", a))
            total = total + self.identity_weight * self.cycle_weight * (idt_a + idt_b)
            metrics.update(identity_a=jnp.mean(idt_a), identity_b=jnp.mean(idt_b))
        metrics["g_loss"] = jnp.mean(total)
        return jnp.mean(total), (metrics, fake_a, fake_b)

    def d_loss(self, d_params, a, b, fake_a, fake_b):
        pair_loss = type(self).discriminator_pair_loss
        la = pair_loss(self.discriminate(d_params, "D_A", a), self.discriminate(d_params, "D_A", fake_a))
        lb = pair_loss(self.discriminate(d_params, "D_B", b), self.discriminate(d_params, "D_B", fake_b))
        return jnp.mean(la) + jnp.mean(lb), dict(d_a=jnp.mean(la), d_b=jnp.mean(lb))

    def history(self, state, rng, fake_a, fake_b):
        if self.pool_size == 0:
            return state.extra, fake_a, fake_b
        ka, kb = jax.random.split(rng)
        pool_a, fake_a = models.pool_query(ka, state.extra["pool_A"], fake_a)
        pool_b, fake_b = models.pool_query(kb, state.extra["pool_B"], fake_b)
        return dict(state.extra, pool_A=pool_a, pool_B=pool_b), fake_a, fake_b

    def train_step(self, state, batch, rng):
        a, b = self.prepare(batch)
        k_g, k_pool = jax.random.split(rng)
        grads, (metrics, fake_a, fake_b) = jax.grad(self.g_loss, has_aux=True)(
            state.params["generators"], state.params["discriminators"], a, b, k_g)
        metrics["g_grad_norm"] = optax.global_norm(grads)
        state = state.apply_gradients(grads, player="generators")
        extra, fake_a, fake_b = self.history(state, k_pool, jax.lax.stop_gradient(fake_a),
                                             jax.lax.stop_gradient(fake_b))
        d_grads, d_metrics = jax.grad(self.d_loss, has_aux=True)(state.params["discriminators"], a, b, fake_a,
                                                                 fake_b)
        state = state.apply_gradients(d_grads, player="discriminators").replace(extra=extra)
        return state, dict(metrics, **d_metrics, d_grad_norm=optax.global_norm(d_grads))

    # -- evaluation ------------------------------------------------------------------------------------------
    def _direction(self, direction):
        if direction not in ("AB", "BA"):
            raise ValueError(f"{self.name}: direction must be 'AB' or 'BA', got {direction!r}")
        if direction == "AB":
            return self.feature_a, self.levels_a, "G_AB", "G_BA"
        return self.feature_b, self.levels_b, "G_BA", "G_AB"

    def translate(self, state, batch, rng, direction="AB"):
        """G(a) (direction 'AB') or F(b) ('BA') in [0, 1], for a batch of the source domain."""
        feature, levels, fwd, _ = self._direction(direction)
        x = pp.center_pm1(batch[feature], levels)
        return to01(self.generate(state.eval_params()["generators"], fwd, x))

    def cycle(self, state, batch, rng, direction="AB"):
        """{'output': F(G(a)), 'target': a} (or G(F(b)), b) in [0, 1]."""
        feature, levels, fwd, back = self._direction(direction)
        x = pp.center_pm1(batch[feature], levels)
        g = state.eval_params()["generators"]
        return {"output": to01(self.generate(g, back, self.generate(g, fwd, x))), "target": to01(x)}

    def eval_step(self, state, batch, rng):
        """Per test image of domain A (config.dataset): the A -> B -> A cycle L1 in [0, 1] units."""
        r = self.cycle(state, batch, rng, "AB")
        return {"cycle_l1": losses.l1_distance(r["output"], r["target"])}

    def _grids(self, state, a, b):
        ra, rb = self.cycle(state, {self.feature_a: a}, None, "AB"), self.cycle(state, {self.feature_b: b}, None, "BA")
        g = state.eval_params()["generators"]
        fb = to01(self.generate(g, "G_AB", pp.center_pm1(a, self.levels_a)))
        fa = to01(self.generate(g, "G_BA", pp.center_pm1(b, self.levels_b)))
        return {"A_to_B": self._grid_rows([ra["target"], fb, ra["output"]]),
                "B_to_A": self._grid_rows([rb["target"], fa, rb["output"]])}

    def visualize(self, state, rng):
        """Rows: 8 fixed test images of A, G(a), F(G(a)); and of B, F(b), G(F(b))."""
        del rng
        ins = {name: (spec.dataset or self.config.dataset) for name, spec in self.inputs().items()}
        return self._visualize(state, self._arrays(ins["A"], self.feature_a, 8),
                               self._arrays(ins["B"], self.feature_b, 8))


@register("discogan")
class DiscoGAN(CycleGAN):
    """DiscoGAN (Kim et al. 2017): encoder-decoder generators, GAN + squared reconstruction losses for both
    domains, two discriminators on the current fakes (no identity loss, no pool)."""

    has_identity_and_pool = False
    discriminator_pair_loss = losses.discogan_discriminator_loss

    def __init__(self, config, info):
        super().__init__(config, info)
        self.reconstruction_weight = float(config.model.get("reconstruction_weight", 1.0))

    def g_loss(self, g_params, d_params, a, b, rng):
        k1, k2, k3, k4 = jax.random.split(rng, 4) if rng is not None else (None,) * 4
        fake_b = self.generate(g_params, "G_AB", a, k1)
        fake_a = self.generate(g_params, "G_BA", b, k2)
        rec_a = self.generate(g_params, "G_BA", fake_b, k3)
        rec_b = self.generate(g_params, "G_AB", fake_a, k4)
        _, adv_ab, rec_la = losses.discogan_generator_loss(self.discriminate(d_params, "D_B", fake_b), a, rec_a)
        _, adv_ba, rec_lb = losses.discogan_generator_loss(self.discriminate(d_params, "D_A", fake_a), b, rec_b)
        total = adv_ab + adv_ba + self.reconstruction_weight * (rec_la + rec_lb)
        metrics = dict(g_adv_ab=jnp.mean(adv_ab), g_adv_ba=jnp.mean(adv_ba), reconstruction_a=jnp.mean(rec_la),
                       reconstruction_b=jnp.mean(rec_lb), g_loss=jnp.mean(total))
        return jnp.mean(total), (metrics, fake_a, fake_b)



# -- the translation evaluator --------------------------------------------------------------------------------

def classifier_cache_dir():
    """Where trained scoring classifiers are kept: $GEN_JAX_CACHE/classifiers (default ~/.cache/gen_jax)."""
    import os

    return os.path.join(os.environ.get("GEN_JAX_CACHE", os.path.expanduser("~/.cache/gen_jax")), "classifiers")


@functools.lru_cache(maxsize=8)
def _classifier(dataset, data_dir, arch="mlp"):
    """`gen_jax.metrics.classifier.ImageClassifier.train(dataset, arch=arch)` (on the real train images, seed
    0), trained once per machine: its training is deterministic, so the parameters are stored under
    `classifier_cache_dir()`, keyed by the arch and the dataset's name, version and split sizes, and reloaded
    by later runs. 'mlp' (the default: seconds of CPU) or 'cnn' (minutes of CPU)."""
    import os

    import flax.serialization

    from gen_jax import data as data_lib
    from gen_jax.metrics import classifier as clf_lib

    info = data_lib.dataset_info(dataset, data_dir=data_dir)
    tag = "-".join([dataset.replace("/", "_"), str(info.version)] + [f"{k}{v}" for k, v in sorted(info.splits.items())])
    if arch not in ("mlp", "cnn"):
        raise ValueError(f"classifier_arch must be 'mlp' or 'cnn', got {arch!r}")
    path = os.path.join(classifier_cache_dir(), f"{arch}-seed0-{tag}.msgpack")
    if os.path.exists(path):
        feature = info.features["x"]
        module = (clf_lib._CNN if arch == "cnn" else clf_lib._MLP)(info.features["label"].num_classes)
        template = module.init(jax.random.PRNGKey(0), jnp.zeros((1,) + tuple(feature.shape)))["params"]
        with open(path, "rb") as f:
            params = flax.serialization.from_bytes(template, f.read())
        return clf_lib.ImageClassifier(module, params, feature.shape, module.num_classes, data_dir)
    clf = clf_lib.ImageClassifier.train(dataset, arch=arch, seed=0, data_dir=data_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(flax.serialization.to_bytes(clf.params))
    os.replace(tmp, path)
    return clf


@register_evaluator("translation")
class TranslationEval(SplitMean):
    """The FCN-score analogue of Pix2Pix / CycleGAN on digits: the experiment's `translate` hook maps each
    image of `dataset`/`split` (the source domain) in `direction`; a classifier trained by the library on the
    REAL images of the target domain (`classifier`: a dataset name, e.g. 'mnist5k_inverted') labels the
    translation, and `accuracy` is the fraction labelled with the source image's own `label`
    (`real_accuracy`: the same classifier on the target domain's real test images, the ceiling the papers
    list as "ground truth"). With a `cycle` hook (CycleGAN, DiscoGAN) also the cycle reconstruction error
    `cycle_l1` and `cycle_psnr` in [0, 1] units. Settings: direction ('AB' | 'BA'), classifier ('' = none),
    label ('label'), batch_size."""

    def known_settings(self):
        return ("batch_size", "direction", "classifier", "label")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.direction = self.settings.get("direction", "AB")
        self.classifier_name = self.settings.get("classifier", "")
        self.label = self.settings.get("label", "label")
        self.classifier_arch = self.settings.get("classifier_arch", "mlp")

    def compiled(self):
        if self._compiled is None:
            from gen_jax.metrics.image import psnr

            exp = self.trainer.experiment
            clf = (_classifier(self.classifier_name, self.config.get("data_dir"), self.classifier_arch)
                   if self.classifier_name else None)
            has_cycle = hasattr(exp, "cycle")
            direction, label = self.direction, self.label

            def per_example(state, batch, rng):
                out = {}
                if clf is not None:
                    y = exp.translate(state, batch, rng, direction)
                    logits = clf.module.apply({"params": clf.params}, y)[0]
                    out["accuracy"] = (jnp.argmax(logits, -1) == batch[label]).astype(jnp.float32)
                if has_cycle:
                    r = exp.cycle(state, batch, rng, direction)
                    out["cycle_l1"] = losses.l1_distance(r["output"], r["target"])
                    out["cycle_psnr"] = psnr(r["output"], r["target"])
                if not out:
                    raise ValueError(f"evaluator {self.prefix!r}: no classifier set and {exp.name} has no cycle")
                return out

            self._compiled = self.trainer.compiled_eval_step(per_example)
        return self._compiled

    def run(self, state, step):
        out = dict(super().run(state, step))
        if self.classifier_name:
            clf = _classifier(self.classifier_name, self.config.get("data_dir"), self.classifier_arch)
            out["real_accuracy"] = clf.accuracy(self.classifier_name, self.config.get("eval_split", "test"))
        return out.items()
# GP-GAN, SRGAN, pix2pixHD and PixelDTGAN register their experiments and evaluators on import.
from gen_jax.translation import gpgan, pix2pixhd, pixeldtgan, srgan  # noqa: E402,F401

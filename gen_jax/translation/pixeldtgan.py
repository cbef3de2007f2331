"""PixelDTGAN (Yoo, Kim, Park, Paek & Kweon 2016, "Pixel-Level Domain Transfer", ECCV): a converter C from a
source image to a target-domain image, a real/fake discriminator D_R on target-domain images and a domain
discriminator D_A on (source, target) pairs that judges whether the two are associated.

Losses (Sec. 4, Eq. 1-4; D = sigmoid of a logit, cross-entropy with labels t):
  * D_R: real targets t = 1, converted images C(I_S) t = 0:
        L_R = (1/2) [-log D_R(I_T) - log(1 - D_R(C(I_S)))]                        (`real_fake_loss`)
  * D_A on three kinds of pairs, the source with its ASSOCIATED target (t = 1), with an UNASSOCIATED real
    target (t = 0: the target of another example) and with the converter's output (t = 0):
        L_A = (1/3) [-log D_A(I_S, I_T+) - log(1 - D_A(I_S, I_T-)) - log(1 - D_A(I_S, C(I_S)))]
                                                                                    (`domain_loss`)
    the unassociated negative is what makes D_A judge the RELATION of the pair, not only the realism of its
    target (the paper's argument for it, Sec. 4).
  * C is trained against both (the labels of its outputs flipped to 1, the non-saturating form of Goodfellow
    et al. 2014): L_C = rf_weight * -log D_R(C(I_S)) + domain_weight * -log D_A(I_S, C(I_S))
    (+ mse_weight * mean (C(I_S) - I_T+)^2, 0 by default)                            (`converter_loss`).
    domain_weight = 0 is the ablation without the domain discriminator (the paper's "C+RF"); rf_weight =
    domain_weight = 0 with mse_weight = 1 the converter trained with MSE alone (the paper's "C+MSE" baseline).

The unassociated target of example i of a batch is the associated target of example (i + 1) mod B of the same
batch (`unassociated`): another example, so never its own target (the batch holds distinct examples), and
computed on the whole batch inside the jitted step, so the step is the same on any number of devices.

Networks (Sec. 4.1, Table 1, scaled by config): the converter is an encoder of 4x4 stride-2 convolutions with
LeakyReLU 0.2 down to 1x1 and a decoder of 4x4 stride-2 transposed convolutions with ReLU back to the target's
size, tanh (`models.build_generator`, arch 'encoder_decoder': the U-Net without skips, no dropout); both
discriminators are DCGAN-style encoders of 4x4 stride-2 convolutions with LeakyReLU 0.2 to 4x4 and one logit
(`gpgan.Critic`); D_A reads the source and the target concatenated along channels. The paper's networks use
batch norm; these use instance norm in the converter and none in the discriminators (no running statistics to
checkpoint).

Data: a paired dataset with features model.source -> model.target (`gen_jax.data.dressed_digits`: 'source' ->
'x', a digit worn at another size over a photo -> the same digit clean and centred, the stand-in for LookBook). The
evaluation is the paper's pixel-level one (Sec. 5.5: RMSE and SSIM of the output against the associated
target) per test example, in [0, 1] units (`eval_step`), and with the `translation` evaluator the accuracy of
a library classifier trained on the real targets.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gen_jax.core.experiment import register
from gen_jax.data import preprocess as pp
from gen_jax.metrics import image as image_metrics
from gen_jax.translation import gpgan, models
from gen_jax.translation import steps as tr

# -- losses (per example, [B] logits -> [B]) -----------------------------------------------------------------


def _logits(name, *xs):
    for x in xs:
        if jnp.ndim(x) != 1:
            raise ValueError(f"{name}: expected logits [B], got shape {jnp.shape(x)}")
        if jnp.shape(x) != jnp.shape(xs[0]):
            raise ValueError(f"{name}: logits differ in shape, {[jnp.shape(v) for v in xs]}")


def real_fake_loss(real_logits, fake_logits):
    """(1/2) [-log D_R(I_T) - log(1 - D_R(C(I_S)))] per example (Yoo et al. 2016, Eq. 2)."""
    _logits("real_fake_loss", real_logits, fake_logits)
    return 0.5 * (jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits))


def domain_loss(associated_logits, unassociated_logits, fake_logits):
    """(1/3) [-log D_A(I_S, I_T+) - log(1 - D_A(I_S, I_T-)) - log(1 - D_A(I_S, C(I_S)))] per example
    (Yoo et al. 2016, Eq. 3: associated pairs t = 1, unassociated and converted pairs t = 0)."""
    _logits("domain_loss", associated_logits, unassociated_logits, fake_logits)
    return (jax.nn.softplus(-associated_logits) + jax.nn.softplus(unassociated_logits)
            + jax.nn.softplus(fake_logits)) / 3.0


def converter_loss(rf_fake_logits, domain_fake_logits, output, target, rf_weight: float = 1.0,
                   domain_weight: float = 1.0, mse_weight: float = 0.0):
    """rf_weight * -log D_R(C(I_S)) + domain_weight * -log D_A(I_S, C(I_S)) + mse_weight * mean (C(I_S) - I_T)^2
    per example. Returns (total, rf term, domain term, mse term), each [B]."""
    _logits("converter_loss", rf_fake_logits, domain_fake_logits)
    rf = jax.nn.softplus(-rf_fake_logits)
    dom = jax.nn.softplus(-domain_fake_logits)
    mse = tr.losses.squared_distance(output, target)
    return rf_weight * rf + domain_weight * dom + mse_weight * mse, rf, dom, mse


def unassociated(targets):
    """The unassociated target of each example: example i gets the target of example (i + 1) mod B."""
    if targets.shape[0] < 2:
        raise ValueError(f"PixelDTGAN needs batches of at least 2 examples for unassociated pairs, got "
                         f"{targets.shape[0]}")
    return jnp.roll(targets, -1, axis=0)


# -- the experiment ------------------------------------------------------------------------------------------


@register("pixeldtgan")
class PixelDTGAN(tr._Translation):  # pylint: disable=protected-access
    """Converter, real/fake discriminator and domain discriminator on a paired dataset (module docstring)."""

    PLAYERS = ("converter", "real_fake", "domain")

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None:
            raise ValueError("pixeldtgan needs config.dataset: a paired dataset (e.g. dressed_digits)")
        m = config.model
        self.source, self.target = m.get("source", "source"), m.get("target", "x")
        self.src_levels, self.src_shape = tr._levels(info, self.source, "pixeldtgan model.source")  # pylint: disable=protected-access
        self.tgt_levels, self.tgt_shape = tr._levels(info, self.target, "pixeldtgan model.target")  # pylint: disable=protected-access
        if self.src_shape[:2] != self.tgt_shape[:2]:
            raise ValueError(f"pixeldtgan: source {self.source!r} {self.src_shape} and target {self.target!r} "
                             f"{self.tgt_shape} must have the same size (D_A reads them concatenated)")
        self.rf_weight = float(m.get("rf_weight", 1.0))
        self.domain_weight = float(m.get("domain_weight", 1.0))
        self.mse_weight = float(m.get("mse_weight", 0.0))
        if min(self.rf_weight, self.domain_weight, self.mse_weight) < 0 or \
                self.rf_weight + self.domain_weight + self.mse_weight == 0:
            raise ValueError(f"pixeldtgan: rf_weight={self.rf_weight}, domain_weight={self.domain_weight}, "
                             f"mse_weight={self.mse_weight} must be >= 0 and not all 0")
        g = m.get("converter", {})
        g = dict(g.to_dict() if hasattr(g, "to_dict") else g)
        g.setdefault("arch", "encoder_decoder")
        if g["arch"] != "encoder_decoder":
            raise ValueError(f"pixeldtgan: the converter is an encoder-decoder (Yoo et al. 2016, Sec. 4.1); "
                             f"converter.arch={g['arch']!r} is not")
        self.converter = models.build_generator(g, self.tgt_shape[-1])
        d = m.get("discriminator", {})
        width = dict(features=int(d.get("features", 64)), max_features=int(d.get("max_features", 512)))
        self.d_real_fake, self.d_domain = gpgan.Critic(**width), gpgan.Critic(**width)
        self._visualize = jax.jit(self._grids)

    # -- networks ------------------------------------------------------------------------------------------
    def prepare(self, batch):
        return (pp.center_pm1(batch[self.source], self.src_levels),
                pp.center_pm1(batch[self.target], self.tgt_levels))

    def convert(self, c_params, s):
        return self.converter.apply({"params": c_params}, s)

    def real_fake(self, d_params, t):
        return self.d_real_fake.apply({"params": d_params}, t)

    def domain(self, d_params, s, t):
        return self.d_domain.apply({"params": d_params}, jnp.concatenate([s, t], axis=-1))

    def init_state(self, rng, batch):
        kc, kr, kd = jax.random.split(rng, 3)
        s, t = jnp.zeros((1,) + self.src_shape), jnp.zeros((1,) + self.tgt_shape)
        params = {"converter": self.converter.init(kc, s)["params"],
                  "real_fake": self.d_real_fake.init(kr, t)["params"],
                  "domain": self.d_domain.init(kd, jnp.concatenate([s, t], -1))["params"]}
        d_cfg = self.config.get("d_optim") or self.config.optim
        tx = {"converter": tr.make_translation_optimizer(self.config.optim),
              "real_fake": tr.make_translation_optimizer(d_cfg), "domain": tr.make_translation_optimizer(d_cfg)}
        return self.create_state(params, rng, tx=tx)

    # -- the step --------------------------------------------------------------------------------------------
    def real_fake_d_loss(self, d_params, t, fake):
        real_l, fake_l = self.real_fake(d_params, t), self.real_fake(d_params, fake)
        loss = jnp.mean(real_fake_loss(real_l, fake_l))
        return loss, dict(rf_loss=loss, rf_real=jnp.mean(jax.nn.sigmoid(real_l)),
                          rf_fake=jnp.mean(jax.nn.sigmoid(fake_l)))

    def domain_logits(self, d_params, s, t, fake):
        """D_A's logits on (source, associated), (source, unassociated), (source, converted)."""
        return self.domain(d_params, s, t), self.domain(d_params, s, unassociated(t)), self.domain(d_params, s, fake)

    def domain_d_loss(self, d_params, s, t, fake):
        a, u, f = self.domain_logits(d_params, s, t, fake)
        loss = jnp.mean(domain_loss(a, u, f))
        return loss, dict(domain_loss=loss, domain_associated=jnp.mean(jax.nn.sigmoid(a)),
                          domain_unassociated=jnp.mean(jax.nn.sigmoid(u)), domain_fake=jnp.mean(jax.nn.sigmoid(f)))

    def c_loss(self, c_params, rf_params, dom_params, s, t):
        fake = self.convert(c_params, s)
        zeros = jnp.zeros((s.shape[0],))
        rf_l = self.real_fake(rf_params, fake) if self.rf_weight > 0 else zeros
        dom_l = self.domain(dom_params, s, fake) if self.domain_weight > 0 else zeros
        total, rf, dom, mse = converter_loss(rf_l, dom_l, fake, t, self.rf_weight, self.domain_weight,
                                             self.mse_weight)
        return jnp.mean(total), dict(c_loss=jnp.mean(total), c_rf=jnp.mean(rf), c_domain=jnp.mean(dom),
                                     c_mse=jnp.mean(mse))

    def train_step(self, state, batch, rng):
        del rng  # the networks are deterministic
        s, t = self.prepare(batch)
        metrics = {}
        fake = jax.lax.stop_gradient(self.convert(state.params["converter"], s))
        if self.rf_weight > 0:
            grads, m = jax.grad(self.real_fake_d_loss, has_aux=True)(state.params["real_fake"], t, fake)
            state = state.apply_gradients(grads, player="real_fake")
            metrics.update(m, rf_grad_norm=optax.global_norm(grads))
        if self.domain_weight > 0:
            grads, m = jax.grad(self.domain_d_loss, has_aux=True)(state.params["domain"], s, t, fake)
            state = state.apply_gradients(grads, player="domain")
            metrics.update(m, domain_grad_norm=optax.global_norm(grads))
        grads, m = jax.grad(self.c_loss, has_aux=True)(state.params["converter"], state.params["real_fake"],
                                                        state.params["domain"], s, t)
        state = state.apply_gradients(grads, player="converter")
        return state, dict(metrics, **m, c_grad_norm=optax.global_norm(grads))

    # -- evaluation --------------------------------------------------------------------------------------------
    def translate(self, state, batch, rng=None, direction="AB"):
        """C(source) as images in [0, 1] (for the `translation` evaluator's classifier)."""
        del rng
        if direction != "AB":
            raise ValueError(f"pixeldtgan converts one way (direction 'AB'), got {direction!r}")
        s = pp.center_pm1(batch[self.source], self.src_levels)
        return tr.to01(self.convert(state.eval_params()["converter"], s))

    def reconstruct(self, state, batch, rng):
        """{'output': C(source), 'target': the associated target} in [0, 1], for the `reconstruction` evaluator."""
        return {"output": self.translate(state, batch, rng), "target": pp.scale01(batch[self.target], self.tgt_levels)}

    def eval_step(self, state, batch, rng):
        """Per test example, against the associated target in [0, 1]: RMSE, SSIM (the paper's Sec. 5.5), L1."""
        out = self.translate(state, batch, rng)
        target = pp.scale01(batch[self.target], self.tgt_levels)
        return dict(rmse=jnp.sqrt(image_metrics.mse(out, target)), ssim=image_metrics.ssim(out, target),
                    l1=tr.losses.l1_distance(out, target))

    def _grids(self, state, s, t):
        out = self.translate(state, {self.source: s})
        return {"translations": self._grid_rows([pp.scale01(s, self.src_levels), out,
                                                 pp.scale01(t, self.tgt_levels)])}

    def visualize(self, state, rng):
        """Rows: 8 fixed test sources, their conversions, the associated targets."""
        del rng
        return self._visualize(state, self._arrays(self.config.dataset, self.source, 8),
                               self._arrays(self.config.dataset, self.target, 8))


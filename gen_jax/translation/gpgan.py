"""GP-GAN (Wu, Zheng, Zhang & Huang 2017, "GP-GAN: Towards Realistic High-Resolution Image Blending"): the
Blending GAN, which maps a copy-paste composite to a low-resolution well-blended image, and the
Gaussian-Poisson equation, which adds the composite's high-frequency detail to it.

**Gaussian-Poisson equation** (Sec. 3.2, Eq. 3-6). For an image x (one channel) the energy is
    H(x) = P(x) + beta E(x),   P(x) = || div v - L x ||^2,   E(x) = || G x - x_l ||^2,
with v the guidance (gradient) field of the composite: the gradients of the source (the pasted object's
photo) where the mask is on and those of the destination elsewhere (Perez et al. 2003), L the discrete
Laplacian, G a Gaussian filter of std `sigma` and x_l the low-resolution blend (upsampled). Its minimiser
solves the normal equations
    (L^T L + beta G^T G) x = L^T div v + beta G^T x_l.
With Neumann (reflecting, half-sample symmetric) boundaries L and G are both diagonalised by the orthonormal
2-D DCT-II (`jax.scipy.fft.dctn`, computed with the FFT): L has eigenvalues 2 cos(pi k / H) + 2 cos(pi l / W) - 4,
G the products g(k) g(l) with g(k) = sum_j w_j cos(pi k j / N) for its taps w_j, so the closed form is
    x = IDCT[ (lambda_L DCT(div v) + beta lambda_G DCT(x_l)) / (lambda_L^2 + beta lambda_G^2) ]   (`gp_solve`).
beta = 0 is Poisson blending with Neumann boundaries over the whole image (Perez et al.'s guided
interpolation with the composite's mixed gradients, L x = div v, whose constant is then taken from the
destination: its free DC coefficient).

**Laplacian pyramid** (Sec. 3.2, Algorithm 1): the composite's images are reduced to S scales, the coarsest of
the Blending GAN's resolution; at the coarsest scale the colour constraint x_l is the GAN's output, and at each
finer scale it is the previous scale's solution upsampled (`gp_pyramid`).

**Blending GAN** (Sec. 3.1, Fig. 3): an encoder of 4x4 stride-2 convolutions (LeakyReLU 0.2) down to 4x4, a
fully-connected bottleneck (4000 units in the paper at 64x64), a decoder of 4x4 stride-2 transposed
convolutions (ReLU) back to the input size, tanh. It is trained with L = lambda L2 + (1 - lambda) L_adv,
lambda = 0.999, L2 = mean squared error against the well-blended ground truth, L_adv the Wasserstein generator
loss -f(G(c)) of a critic f (a DCGAN-style encoder to one score) trained with the Wasserstein critic loss
f(fake) - f(real) (Arjovsky et al. 2017; `gen_jax.gan.losses`) and weight clipping to [-clip, clip]
(model.critic_clip = 0.01, WGAN's), or the gradient penalty (model.gradient_penalty > 0, Gulrajani et al.).
Norm: instance norm in the generator (batch norm's per-image form here: no running statistics), none in the
critic (as WGAN-GP requires).

The experiment `gpgan` reads a composites dataset (features composite, source, target, region (the mask): see
`gen_jax.data.composites`), trains the Blending GAN at model.low_res, and evaluates per held-out composite the
PSNR and SSIM against the ground truth of: copy-paste, Poisson blending (beta = 0), the Blending GAN alone
(bilinearly upsampled) and GP-GAN (the GAN output through the Gaussian-Poisson pyramid).
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.experiment import register
from gen_jax.data import preprocess as pp
from gen_jax.gan import losses as gan_losses
from gen_jax.metrics import image as image_metrics
from gen_jax.nn import image2image as i2i
from gen_jax.translation import steps as tr

# -- the Gaussian-Poisson equation -------------------------------------------------------------------------


def gaussian_taps(sigma: float, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian taps w_{-r..r} (radius r = ceil(3 sigma) unless given); sigma = 0 is [1]."""
    if sigma < 0:
        raise ValueError(f"gaussian_taps: sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return np.ones(1)
    r = int(math.ceil(3 * sigma)) if radius is None else int(radius)
    j = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (j / sigma) ** 2)
    return w / w.sum()


def _sym_filter_1d(x, taps, axis):
    """Convolution of x with symmetric taps along `axis`, half-sample symmetric (Neumann) boundaries."""
    r = (len(taps) - 1) // 2
    if r == 0:
        return x * taps[0]
    if r > x.shape[axis]:
        raise ValueError(f"filter radius {r} exceeds the image side {x.shape[axis]}")
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    xp = jnp.pad(x, pad, mode="symmetric")
    n = x.shape[axis]
    return sum(float(w) * jax.lax.slice_in_dim(xp, k, k + n, axis=axis) for k, w in enumerate(taps))


def laplacian(x):
    """The 5-point Laplacian of [..., H, W] with Neumann boundaries (x_{-1} = x_0, x_N = x_{N-1})."""
    t = np.array([1.0, -2.0, 1.0])
    return _sym_filter_1d(x, t, -2) + _sym_filter_1d(x, t, -1)


def gaussian_filter(x, sigma: float):
    """Separable Gaussian filter of [..., H, W] with half-sample symmetric boundaries."""
    taps = gaussian_taps(sigma)
    return _sym_filter_1d(_sym_filter_1d(x, taps, -2), taps, -1)


def gradients(x):
    """Forward differences (g_y, g_x) of [..., H, W]; 0 on the last row / column (Neumann)."""
    gy = jnp.concatenate([x[..., 1:, :] - x[..., :-1, :], jnp.zeros_like(x[..., :1, :])], axis=-2)
    gx = jnp.concatenate([x[..., :, 1:] - x[..., :, :-1], jnp.zeros_like(x[..., :, :1])], axis=-1)
    return gy, gx


def divergence(gy, gx):
    """Backward-difference divergence, the negative adjoint of `gradients`: divergence(*gradients(x)) =
    laplacian(x)."""
    pad_y = jnp.concatenate([jnp.zeros_like(gy[..., :1, :]), gy[..., :-1, :]], axis=-2)
    pad_x = jnp.concatenate([jnp.zeros_like(gx[..., :, :1]), gx[..., :, :-1]], axis=-1)
    return gy - pad_y + gx - pad_x


def guidance_divergence(source, destination, mask):
    """div v for the mixed guidance field v: the source's gradient on every edge with an end inside the mask,
    the destination's elsewhere (Perez et al. 2003). Arrays [..., H, W]; mask in [0, 1] (soft masks blend)."""
    sy, sx = gradients(source)
    dy, dx = gradients(destination)
    my = jnp.maximum(mask, jnp.concatenate([mask[..., 1:, :], mask[..., -1:, :]], axis=-2))
    mx = jnp.maximum(mask, jnp.concatenate([mask[..., :, 1:], mask[..., :, -1:]], axis=-1))
    return divergence(my * sy + (1 - my) * dy, mx * sx + (1 - mx) * dx)


def _eigenvalues(h: int, w: int, sigma: float):
    ky, kx = np.arange(h), np.arange(w)
    lam_l = (2 * np.cos(np.pi * ky / h) - 2)[:, None] + (2 * np.cos(np.pi * kx / w) - 2)[None, :]
    taps = gaussian_taps(sigma)
    r = (len(taps) - 1) // 2
    j = np.arange(-r, r + 1)

    def g(n):
        return (taps[None, :] * np.cos(np.pi * np.arange(n)[:, None] * j[None, :] / n)).sum(1)

    return lam_l, g(h)[:, None] * g(w)[None, :]


def gp_solve(div_v, x_l, beta: float, sigma: float = 0.5, dc=None):
    """The closed-form minimiser of ||div_v - L x||^2 + beta ||G x - x_l||^2 over [..., H, W] (module
    docstring). With beta = 0 the DC coefficient (the mean) is undetermined: it is taken from `dc` (an image
    whose mean x gets; default x_l)."""
    if beta < 0:
        raise ValueError(f"gp_solve: the colour weight beta must be >= 0, got {beta}")
    if div_v.shape != x_l.shape:
        raise ValueError(f"gp_solve: div_v {div_v.shape} and x_l {x_l.shape} differ")
    from jax.scipy.fft import dctn, idctn

    h, w = div_v.shape[-2:]
    lam_l, lam_g = _eigenvalues(h, w, sigma)
    axes = (-2, -1)
    num = lam_l * dctn(div_v, type=2, axes=axes, norm="ortho") + beta * lam_g * dctn(x_l, type=2, axes=axes,
                                                                                      norm="ortho")
    den = lam_l ** 2 + beta * lam_g ** 2
    den = np.where(den == 0, 1.0, den)
    coef = num / den
    if beta == 0:
        ref = x_l if dc is None else dc
        coef = coef.at[..., 0, 0].set(dctn(ref, type=2, axes=axes, norm="ortho")[..., 0, 0])
    return idctn(coef, type=2, axes=axes, norm="ortho")


def _channels_first(x):
    return jnp.moveaxis(x, -1, -3)


def _channels_last(x):
    return jnp.moveaxis(x, -3, -1)


def gaussian_poisson_blend(source, destination, mask, x_l, beta: float = 1.0, sigma: float = 0.5):
    """One scale: images [B, H, W, C] (mask [B, H, W, 1]) -> the GP solution [B, H, W, C]; x_l the colour
    constraint at this size. beta = 0 is Poisson blending (mean from the destination)."""
    div_v = guidance_divergence(_channels_first(source), _channels_first(destination),
                                _channels_first(jnp.broadcast_to(mask, source.shape)))
    x = gp_solve(div_v, _channels_first(x_l), beta, sigma, dc=_channels_first(destination))
    return _channels_last(x)


def _resize(x, hw):
    return jax.image.resize(x, x.shape[:1] + tuple(hw) + x.shape[3:], method="linear", antialias=True)


def gp_pyramid(source, destination, mask, x_low, beta: float = 1.0, sigma: float = 0.5):
    """Algorithm 1 of Wu et al.: from the scale of x_low ([B, h, w, C], the Blending GAN's output) to the
    full size of source/destination/mask, halving the side per scale; returns [B, H, W, C]."""
    h, w = source.shape[1:3]
    sizes = [(h, w)]
    while sizes[-1][0] > x_low.shape[1]:
        sizes.append((max(1, (sizes[-1][0] + 1) // 2), max(1, (sizes[-1][1] + 1) // 2)))
    x = x_low
    for hw in reversed(sizes):
        x_l = _resize(x, hw)
        s, d, m = (_resize(a, hw) if hw != (h, w) else a for a in (source, destination, mask))
        x = gaussian_poisson_blend(s, d, m, x_l, beta, sigma)
    return x


# -- the Blending GAN --------------------------------------------------------------------------------------


class BlendingGenerator(nn.Module):
    """Encoder (4x4 stride-2 convs, LeakyReLU 0.2, instance norm after all but the first) to 4x4, a
    fully-connected bottleneck of `bottleneck` units, decoder (4x4 stride-2 transposed convs, ReLU, instance
    norm) to the input size, tanh. [B, H, W, C] in [-1, 1] with H = W = 4 * 2^k."""

    out_channels: int = 3
    features: int = 64
    max_features: int = 512
    bottleneck: int = 4000
    norm: str = "instance"

    @nn.compact
    def __call__(self, x):
        h, w = x.shape[1:3]
        n = int(round(math.log2(h / 4)))
        if h != w or h != 4 * 2 ** n or n < 1:
            raise ValueError(f"BlendingGenerator needs square images of side 4 * 2^k (k >= 1), got {h}x{w}")
        y, widths = x, []
        for i in range(n):
            f = min(self.features * 2 ** i, self.max_features)
            widths.append(f)
            if i > 0:
                y = nn.leaky_relu(y, 0.2)
            y = nn.Conv(f, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=i == 0 or self.norm == "none")(y)
            if i > 0:
                y = i2i._norm(y, self.norm)  # pylint: disable=protected-access
        b, c = y.shape[0], y.shape[-1]
        y = nn.leaky_relu(y, 0.2).reshape(b, -1)
        y = nn.relu(nn.Dense(self.bottleneck, name="bottleneck")(y))
        y = nn.Dense(16 * c)(y).reshape(b, 4, 4, c)
        for i in reversed(range(n)):
            f = self.out_channels if i == 0 else widths[i - 1]
            y = nn.relu(y)
            y = nn.ConvTranspose(f, (4, 4), (2, 2), padding="SAME", use_bias=i == 0 or self.norm == "none")(y)
            if i > 0:
                y = i2i._norm(y, self.norm)  # pylint: disable=protected-access
        return jnp.tanh(y)


class Critic(nn.Module):
    """DCGAN-style critic: 4x4 stride-2 convs with LeakyReLU 0.2 down to 4x4, a dense layer to one score."""

    features: int = 64
    max_features: int = 512

    @nn.compact
    def __call__(self, x):
        y = x
        i = 0
        while y.shape[1] > 4:
            y = nn.leaky_relu(nn.Conv(min(self.features * 2 ** i, self.max_features), (4, 4), (2, 2),
                                      padding=((1, 1), (1, 1)))(y), 0.2)
            i += 1
        return nn.Dense(1)(y.reshape(y.shape[0], -1))[:, 0]


def blending_l2_loss(output, target):
    """Per-example mean squared error (the L2 term of Wu et al., Eq. 1), [B, ...] -> [B]."""
    return jnp.mean(jnp.square(output - target).reshape(output.shape[0], -1), axis=1)


def blending_generator_loss(fake_scores, output, target, l2_weight: float = 0.999):
    """Wu et al. Eq. 1: l2_weight * L2(G(c), target) + (1 - l2_weight) * (-f(G(c))), per example; returns
    (total, adversarial, l2)."""
    adv = gan_losses.wasserstein_generator_loss(fake_scores)
    l2 = blending_l2_loss(output, target)
    return l2_weight * l2 + (1 - l2_weight) * adv, adv, l2


@register("gpgan")
class GPGAN(tr._Translation):  # pylint: disable=protected-access
    """The Blending GAN trained on composites, evaluated with the Gaussian-Poisson pyramid (module docstring)."""

    FEATURES = ("composite", "source", "target", "region")

    def __init__(self, config, info):
        super().__init__(config, info)
        if info is None:
            raise ValueError("gpgan needs config.dataset: a composites dataset (e.g. 'composites')")
        missing = [f for f in self.FEATURES if f not in info.features]
        if missing:
            raise ValueError(f"gpgan: dataset {info.name!r} lacks the features {missing} "
                             f"(has {', '.join(info.features)})")
        self.levels, self.shape = tr._levels(info, "composite", "gpgan composite")  # pylint: disable=protected-access
        self.mask_levels = int(info.features["region"].num_levels)
        m = config.model
        self.low_res = int(m.get("low_res", 16))
        if self.low_res > self.shape[0]:
            raise ValueError(f"gpgan: model.low_res={self.low_res} exceeds the image side {self.shape[0]}")
        self.l2_weight = float(m.get("l2_weight", 0.999))
        self.beta = float(m.get("beta", 1.0))
        self.sigma = float(m.get("sigma", 0.5))
        self.clip = float(m.get("critic_clip", 0.01))
        self.gp_weight = float(m.get("gradient_penalty", 0.0))
        g, d = m.get("generator", {}), m.get("critic", {})
        self.generator = BlendingGenerator(out_channels=self.shape[-1], features=int(g.get("features", 64)),
                                           max_features=int(g.get("max_features", 512)),
                                           bottleneck=int(g.get("bottleneck", 4000)), norm=g.get("norm", "instance"))
        self.critic = Critic(features=int(d.get("features", 64)), max_features=int(d.get("max_features", 512)))
        self._visualize = jax.jit(self._grids)

    def prepare(self, batch):
        """(composite, source, target) in [-1, 1] at full size, mask in [0, 1]."""
        c, s, t = (pp.center_pm1(batch[k], self.levels) for k in ("composite", "source", "target"))
        return c, s, t, pp.scale01(batch["region"], self.mask_levels)

    def low(self, x):
        return _resize(x, (self.low_res, self.low_res))

    def init_state(self, rng, batch):
        kg, kd = jax.random.split(rng)
        x = jnp.zeros((1, self.low_res, self.low_res, self.shape[-1]))
        params = {"generator": self.generator.init(kg, x)["params"], "critic": self.critic.init(kd, x)["params"]}
        d_cfg = self.config.get("d_optim") or self.config.optim
        tx = {"generator": tr.make_translation_optimizer(self.config.optim),
              "critic": tr.make_translation_optimizer(d_cfg)}
        return self.create_state(params, rng, tx=tx)

    def score(self, d_params, x):
        return self.critic.apply({"params": d_params}, x)

    def blend_low(self, g_params, composite):
        return self.generator.apply({"params": g_params}, self.low(composite))

    def critic_loss(self, d_params, real, fake, rng):
        loss = gan_losses.wasserstein_critic_loss(self.score(d_params, real), self.score(d_params, fake))
        metrics = dict(critic_loss=jnp.mean(loss))
        if self.gp_weight > 0:
            gp = gan_losses.gradient_penalty(lambda v: self.score(d_params, v), real, fake, rng)
            loss = loss + self.gp_weight * gp
            metrics["gradient_penalty"] = jnp.mean(gp)
        return jnp.mean(loss), metrics

    def g_loss(self, g_params, d_params, composite, target_low):
        fake = self.blend_low(g_params, composite)
        total, adv, l2 = blending_generator_loss(self.score(d_params, fake), fake, target_low, self.l2_weight)
        return jnp.mean(total), dict(g_loss=jnp.mean(total), g_adv=jnp.mean(adv), g_l2=jnp.mean(l2))

    def train_step(self, state, batch, rng):
        composite, _, target, _ = self.prepare(batch)
        real = self.low(target)
        fake = jax.lax.stop_gradient(self.blend_low(state.params["generator"], composite))
        grads, metrics = jax.grad(self.critic_loss, has_aux=True)(state.params["critic"], real, fake, rng)
        metrics["critic_grad_norm"] = optax.global_norm(grads)
        state = state.apply_gradients(grads, player="critic")
        if self.clip > 0:
            clipped = jax.tree.map(lambda p: jnp.clip(p, -self.clip, self.clip), state.params["critic"])
            state = state.replace(params=dict(state.params, critic=clipped))
        g_grads, g_metrics = jax.grad(self.g_loss, has_aux=True)(state.params["generator"], state.params["critic"],
                                                                 composite, real)
        state = state.apply_gradients(g_grads, player="generator")
        return state, dict(metrics, **g_metrics, g_grad_norm=optax.global_norm(g_grads))

    # -- evaluation ------------------------------------------------------------------------------------------
    def blends(self, state, batch):
        """{'copy_paste', 'poisson', 'blending_gan', 'gp_gan', 'target'}: images in [0, 1], full size."""
        composite, source, target, mask = self.prepare(batch)
        s01, d01, c01 = tr.to01(source), tr.to01(composite), tr.to01(composite)
        # the destination outside the mask is the composite's; inside it is unknown to a blender, so the
        # destination image given to the guidance field is the composite (its gradients are masked out there)
        x_low = tr.to01(self.blend_low(state.eval_params()["generator"], composite))
        poisson = gaussian_poisson_blend(s01, d01, mask, d01, beta=0.0, sigma=self.sigma)
        gp = gp_pyramid(s01, d01, mask, x_low, self.beta, self.sigma)
        full = self.shape[:2]
        return {"copy_paste": c01, "poisson": jnp.clip(poisson, 0, 1), "blending_gan": _resize(x_low, full),
                "gp_gan": jnp.clip(gp, 0, 1), "target": tr.to01(target)}

    def eval_step(self, state, batch, rng):
        """Per held-out composite: PSNR and SSIM against the ground truth of each blend, and the L2 loss."""
        del rng
        b = self.blends(state, batch)
        out = {}
        for name in ("copy_paste", "poisson", "blending_gan", "gp_gan"):
            out[f"psnr_{name}"] = image_metrics.psnr(b[name], b["target"])
            out[f"ssim_{name}"] = image_metrics.ssim(b[name], b["target"])
        return out

    def _grids(self, state, batch):
        b = self.blends(state, batch)
        return {"blends": self._grid_rows([b[k] for k in ("copy_paste", "poisson", "blending_gan", "gp_gan",
                                                          "target")])}

    def visualize(self, state, rng):
        """Rows: 8 fixed test composites, Poisson, the Blending GAN (upsampled), GP-GAN, the ground truth."""
        del rng
        return self._visualize(state, {k: self._arrays(self.config.dataset, k, 8) for k in self.FEATURES})

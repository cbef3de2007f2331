"""3DGAN (Wu, Zhang, Xue, Freeman & Tenenbaum 2016, "Learning a Probabilistic Latent Space of Object Shapes
via 3D Generative-Adversarial Modeling"): 3-D transposed convolutions from a 200-d latent to a voxel grid, a
3-D convolutional discriminator, and the paper's adaptive discriminator update.

Networks (paper Sec. 3.1 and Fig. 1; widths are config values, the paper's in brackets):

* generator: z [latent_dim = 200] -> Dense to a 4^3 x (g_features * 2^(n-1)) volume -> n - 1 transposed 3-D
  convs of kernel 4, stride 2 (halving the channels) -> a last transposed conv to 1 channel -> sigmoid, with
  batch norm and ReLU after every hidden layer; n = log2(S / 4) + 1 layers for an S^3 grid (64^3 in the
  paper: 512, 256, 128, 64 channels; 16^3 or 32^3 here). The paper's first layer is a 4^3 transposed conv of
  a 1^3 volume, which is exactly a dense layer reshaped to 4^3.
* discriminator: the mirror: 3-D convs of kernel 4, stride 2 (d_features * 2^k channels [64 .. 512]), batch
  norm (none on the first) and LeakyReLU(0.2), then one logit.

Step (paper Sec. 3.1, "Training details"): the GAN family's losses (`gen_jax.gan.losses`, the paper's is the
minimax/non-saturating cross-entropy); D's update is APPLIED only when its accuracy on the current batch
(real logit > 0 and fake logit < 0, over both halves) is at most `model.d_accuracy_threshold` [0.8]
("adaptive training", `adaptive_update`); G is updated every step. Adam(beta1 = 0.5) with learning rates
config.optim (G [0.0025]) and config.d_optim (D [1e-5]).

Evaluation (`voxel_stats`): a 3-D CNN classifier trained by the library on the dataset's train split
(`train_classifier`; no pretrained model exists offline) classifies generated shapes: the fraction it
recognises with confidence > 0.9, the class histogram and its coverage; and the paper's representation
protocol (Sec. 4.2): a linear classifier (logistic regression) on the discriminator's max-pooled features of
real shapes, test accuracy, against the same features of an untrained discriminator.
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
from gen_jax.core.state import TrainState
from gen_jax.gan import losses as gan_losses
from gen_jax.gan.steps import GAN


def _num_layers(size: int) -> int:
    n = int(round(np.log2(size / 4)))
    if size < 8 or 4 * 2 ** n != size:
        raise ValueError(f"3DGAN voxel grids are 4 * 2^k cells a side (8, 16, 32, 64), got {size}")
    return n


class VoxelGenerator(nn.Module):
    """z [B, L] -> occupancy probabilities [B, S, S, S, 1]."""
    size: int = 32
    features: int = 64

    @nn.compact
    def __call__(self, z, train: bool = True):
        n = _num_layers(self.size)
        ch = self.features * 2 ** (n - 1)
        bn = lambda h: nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        h = nn.relu(bn(nn.Dense(4 ** 3 * ch, use_bias=False)(z))).reshape(z.shape[0], 4, 4, 4, ch)
        for _ in range(n - 1):
            ch //= 2
            h = nn.relu(bn(nn.ConvTranspose(ch, (4, 4, 4), strides=(2, 2, 2), padding="SAME", use_bias=False,
                                            transpose_kernel=True)(h)))
        h = nn.ConvTranspose(1, (4, 4, 4), strides=(2, 2, 2), padding="SAME", transpose_kernel=True)(h)
        return nn.sigmoid(h)


class VoxelDiscriminator(nn.Module):
    """voxels [B, S, S, S, 1] -> (logits [B], per-layer feature maps)."""
    features: int = 64

    @nn.compact
    def __call__(self, x, train: bool = True):
        h, maps = x, []
        n = _num_layers(x.shape[1])
        for k in range(n):
            h = nn.Conv(self.features * 2 ** k, (4, 4, 4), strides=(2, 2, 2), padding="SAME", use_bias=k == 0)(h)
            if k:
                h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
            h = nn.leaky_relu(h, 0.2)
            maps.append(h)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0], maps


def adaptive_update(updated, previous, accuracy, threshold: float = 0.8):
    """3DGAN's adaptive rule: the updated discriminator (params, optimizer and model state: any pytree) when
    its accuracy on the batch was <= threshold, else the previous one unchanged. Returns (pytree, applied)."""
    applied = accuracy <= threshold
    return jax.tree.map(lambda a, b: jnp.where(applied, a, b), updated, previous), applied


def discriminator_accuracy(real_logits, fake_logits):
    """The fraction of correct decisions over real (logit > 0) and fake (logit < 0) examples together."""
    return 0.5 * (jnp.mean(real_logits > 0) + jnp.mean(fake_logits < 0))


class VoxelGAN:
    def __init__(self, m, size):
        self.size = int(size)
        _num_layers(self.size)
        self.latent_dim = int(m.get("latent_dim", 200))
        self.threshold = float(m.get("d_accuracy_threshold", 0.8))
        self.loss = gan_losses.get_loss(m.get("loss", "nonsaturating"))
        self.generator = VoxelGenerator(self.size, int(m.get("g_features", 64)))
        self.discriminator = VoxelDiscriminator(int(m.get("d_features", 64)))

    def init(self, rng):
        kg, kd = jax.random.split(rng)
        gv = self.generator.init(kg, jnp.zeros((2, self.latent_dim)), train=False)
        dv = self.discriminator.init(kd, jnp.zeros((2,) + (self.size,) * 3 + (1,)), train=False)
        split = lambda v: (v["params"], {k: c for k, c in v.items() if k != "params"})
        (gp, gs), (dp, ds) = split(gv), split(dv)
        return {"generator": gp, "discriminator": dp}, {"generator": gs, "discriminator": ds}

    def generate(self, params, state, z, train=False):
        return GAN._apply(self.generator, params, state, train, z)

    def discriminate(self, params, state, x, train=True):
        return GAN._apply(self.discriminator, params, state, train, x)

    def discriminator_loss(self, d_params, d_state, real, fake):
        (rl, _), d_state = self.discriminate(d_params, d_state, real)
        (fl, _), d_state = self.discriminate(d_params, d_state, fake)
        loss = jnp.mean(self.loss.discriminator(rl, fl))
        return loss, (d_state, dict(d_loss=loss, d_accuracy=discriminator_accuracy(rl, fl),
                                    real_logit=jnp.mean(rl), fake_logit=jnp.mean(fl)))

    def generator_loss(self, g_params, g_state, d_params, d_state, z):
        fake, g_state = self.generate(g_params, g_state, z, train=True)
        (logits, _), _ = self.discriminate(d_params, d_state, fake)
        return jnp.mean(self.loss.generator(logits)), g_state

    def train_step(self, state, batch, rng):
        real = jnp.asarray(batch["x"], jnp.float32)
        b = real.shape[0]
        kd, kg = jax.random.split(rng)
        fake, _ = self.generate(state.params["generator"], state.model_state["generator"],
                                jax.random.normal(kd, (b, self.latent_dim)), train=True)
        grads, (d_state, m) = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], state.model_state["discriminator"], real, jax.lax.stop_gradient(fake))
        new = state.apply_gradients(grads, player="discriminator", model_state=d_state)
        state, applied = adaptive_update(new, state, m["d_accuracy"], self.threshold)
        (g_loss, g_state), g_grads = jax.value_and_grad(self.generator_loss, has_aux=True)(
            state.params["generator"], state.model_state["generator"], state.params["discriminator"],
            state.model_state["discriminator"], jax.random.normal(kg, (b, self.latent_dim)))
        state = state.apply_gradients(g_grads, player="generator", model_state=g_state)
        return state, dict(m, g_loss=g_loss, d_updated=applied.astype(jnp.float32))


def views(voxels):
    """[N, S, 3S, 1] images in [0, 1] of voxels [N, S, S, S(, 1)] (occupancy in [0, 1], thresholded at 0.5):
    depth maps seen along x, y and z side by side (brighter = nearer; 0 where the ray meets nothing)."""
    v = voxels[..., 0] if voxels.ndim == 5 else voxels
    occ = v > 0.5
    s = v.shape[1]
    out = []
    for axis in (1, 2, 3):
        hit = jnp.any(occ, axis=axis)
        first = jnp.argmax(occ, axis=axis)
        out.append(jnp.where(hit, 1.0 - 0.8 * first / s, 0.0))
    return jnp.concatenate(out, axis=2)[..., None]


@register("3dgan")
class VoxelGANExperiment(Experiment):
    """3DGAN on voxel grids (see the module docstring). config.model: latent_dim, g_features, d_features,
    loss, d_accuracy_threshold."""

    def __init__(self, config, info):
        super().__init__(config, info)
        shape = tuple(info.shape)
        if len(shape) != 4 or shape[-1] != 1 or len(set(shape[:3])) != 1 or info.num_levels != 2:
            raise ValueError(f"3dgan trains on binary voxel grids x [S, S, S, 1]; {info.name!r} has x {shape} "
                             f"with {info.num_levels} levels")
        self.gan = VoxelGAN(config.model, shape[0])
        self._visualize = jax.jit(self._grids)

    def init_state(self, rng, batch):
        params, model_state = self.gan.init(rng)
        c = self.config
        d_tx = make_optimizer(c.d_optim) if c.get("d_optim") else make_optimizer(c.optim)
        return TrainState.create(params=params, tx={"generator": make_optimizer(c.optim), "discriminator": d_tx},
                                 rng=rng, model_state=model_state, ema_decay=c.get("ema_decay") or None)

    def train_step(self, state, batch, rng):
        return self.gan.train_step(state, batch, rng)

    def eval_step(self, state, batch, rng):
        g = self.gan
        real = jnp.asarray(batch["x"], jnp.float32)
        fake = self.sample(state, rng, real.shape[0])
        d = lambda x: g.discriminate(state.params["discriminator"], state.model_state["discriminator"], x,
                                     train=False)[0][0]
        rl, fl = d(real), d(fake)
        return dict(d_loss=g.loss.discriminator(rl, fl), real_logit=rl, fake_logit=fl)

    def sample(self, state, rng, num, labels=None):
        """num occupancy grids [num, S, S, S, 1] in [0, 1] from z ~ N(0, I)."""
        del labels
        g = self.gan
        out, _ = g.generate(state.eval_params()["generator"], state.model_state["generator"],
                            jax.random.normal(rng, (int(num), g.latent_dim)), train=False)
        return out

    def features(self, state, x, discriminator=None):
        """The discriminator's max-pooled feature maps of every layer but the first, concatenated [B, F]
        (the paper's representation, Sec. 4.2); `discriminator` = (params, model_state) of another D."""
        g = self.gan
        params, mstate = discriminator or (state.params["discriminator"], state.model_state["discriminator"])
        (_, maps), _ = g.discriminate(params, mstate, x, train=False)
        pooled = [jnp.max(h.reshape(h.shape[0], -1, h.shape[-1]), axis=1) for h in maps[1:] or maps]
        return jnp.concatenate(pooled, -1)

    def _grids(self, state):
        return {"views": views(self.sample(state, jax.random.PRNGKey(self.config.seed), 16))}

    def visualize(self, state, rng):
        del rng
        return self._visualize(state)


class VoxelClassifier(nn.Module):
    """A small 3-D CNN: voxels [B, S, S, S, 1] -> class logits [B, num_classes]."""
    num_classes: int = 5
    features: int = 16

    @nn.compact
    def __call__(self, x):
        h = x
        for k in range(3):
            h = nn.relu(nn.Conv(self.features * 2 ** k, (3, 3, 3), strides=(2, 2, 2), padding="SAME")(h))
        h = jnp.mean(h, axis=(1, 2, 3))
        return nn.Dense(self.num_classes)(h)


def train_classifier(x, y, num_classes: int, steps: int = 300, batch: int = 64, seed: int = 0, features: int = 16):
    """(apply: voxels -> logits, params) of a `VoxelClassifier` trained by Adam(1e-3) on (x [N, S, S, S, 1],
    y [N]); batches drawn with np.random.default_rng(seed)."""
    model = VoxelClassifier(num_classes, features)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1,) + x.shape[1:]))
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, xb, yb):
        def loss(p):
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.apply(p, xb), yb))
        g = jax.grad(loss)(params)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt

    rng = np.random.default_rng(seed)
    for _ in range(steps):
        i = rng.integers(0, len(x), batch)
        params, opt = step(params, opt, jnp.asarray(x[i], jnp.float32), jnp.asarray(y[i]))
    return jax.jit(model.apply), params


@register_evaluator("voxel_stats")
class VoxelStats(Evaluator):
    """Generated-shape statistics and D's representation (see the module docstring). Settings: num_samples
    (500), classifier_steps (300), confidence (0.9), coverage_share (0.05: a class is covered when at least this
    share of the samples is classified into it), max_examples (0: every train / test example for the linear
    probe). Metrics: classifier_test_accuracy, recognised (confidence > threshold), class_share_<c>,
    class_coverage, d_feature_accuracy, d_feature_accuracy_untrained."""

    def known_settings(self):
        return ("num_samples", "classifier_steps", "confidence", "coverage_share", "max_examples")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self._classifier = None

    def _arrays(self, split):
        from gen_jax import data as data_lib

        a = data_lib.load_arrays(self.dataset, split, data_dir=self.config.get("data_dir"))
        n = int(self.settings.get("max_examples", 0) or 0) or len(a["x"])
        return np.asarray(a["x"][:n], np.float32), np.asarray(a["label"][:n])

    def run(self, state, step):
        from sklearn.linear_model import LogisticRegression

        exp = self.trainer.experiment
        xt, yt = self._arrays(self.config.get("train_split", "train"))
        xs, ys = self._arrays(self.split)
        k = int(self.trainer.experiment.info.num_classes)
        if self._classifier is None:
            apply, params = train_classifier(xt, yt, k, int(self.settings.get("classifier_steps", 300)),
                                             seed=self.seed)
            self._classifier = (apply, params)
        apply, params = self._classifier
        out = {"classifier_test_accuracy": float(np.mean(np.argmax(np.asarray(apply(params, xs)), -1) == ys))}
        n = int(self.settings.get("num_samples", 500))
        gen = (np.asarray(jax.jit(exp.sample, static_argnums=2)(state, jax.random.PRNGKey(self.seed), n)) > 0.5)
        probs = np.asarray(jax.nn.softmax(apply(params, gen.astype(np.float32))))
        out["recognised"] = float(np.mean(probs.max(-1) > float(self.settings.get("confidence", 0.9))))
        share = np.bincount(probs.argmax(-1), minlength=k) / n
        out.update({f"class_share_{c}": float(share[c]) for c in range(k)})
        out["class_coverage"] = float(np.sum(share >= float(self.settings.get("coverage_share", 0.05))))
        out["empty_fraction"] = float(np.mean(gen.reshape(n, -1).sum(-1) == 0))
        feats = jax.jit(exp.features)
        p0, s0 = exp.gan.init(jax.random.PRNGKey(self.seed + 1))
        untrained = (p0["discriminator"], s0["discriminator"])
        feats_untrained = jax.jit(lambda s, x: exp.features(s, x, untrained))
        for name, f in (("d_feature_accuracy", feats), ("d_feature_accuracy_untrained", feats_untrained)):
            ft = np.concatenate([np.asarray(f(state, xt[i:i + 100])) for i in range(0, len(xt), 100)])
            fs = np.concatenate([np.asarray(f(state, xs[i:i + 100])) for i in range(0, len(xs), 100)])
            mu, sd = ft.mean(0), ft.std(0) + 1e-6
            clf = LogisticRegression(max_iter=2000).fit((ft - mu) / sd, yt)
            out[name] = float(clf.score((fs - mu) / sd, ys))
        return out.items()

"""IcGAN (Perarnau et al. 2016, "Invertible Conditional GANs for image editing") and Age-cGAN (Antipov,
Baccouche & Dugelay 2017, "Face Aging With Conditional Generative Adversarial Networks") as engine experiments.

**IcGAN** (`config.experiment = "icgan"`): a conditional DCGAN of the GAN family (`gen_jax.gan.steps.GAN`,
its conditional players and two-player step, unchanged) on the attribute vector y = (class, attribute level),
given to the players as ONE joint label `class * A + level` (A = the attribute's number of levels), plus two
encoders (`heads.DCGANHeads`, the DCGAN discriminator body with linear heads), Sec. 3.2:
    E_z: x' = G(z, y') -> z, trained on GENERATED images:  L_ez = ||z - E_z(G(z, y'))||^2      (Eq. 3)
    E_y: x -> y, trained on REAL images with their attributes: L_ey = sum over attributes of the
         cross-entropy of E_y's logits (the paper's Eq. 4 uses a squared error for binary attributes; ours
         are categorical, class and level)
Reconstruction: x_bar = G(E_z(x), E_y(x)); editing: x' = G(E_z(x), y'), y' an edited attribute vector.
The encoders are trained in the same step as the cGAN (one update each, after the cGAN's, on the step's
fakes and real batch; the paper trains them after the cGAN: here they follow the generator as it learns).
model.class_feature ('' = none) and model.attribute_feature name the attributes.

**Age-cGAN** (`config.experiment = "agecgan"`): the same cGAN conditioned on the ordinal attribute only (the
class is identity, kept in z), the encoder E (= E_z above, trained on generated images, Sec. 3.2) gives the
initial latent z_0 = E(x), then the identity-preserving latent optimisation (Sec. 3.3)
    z* = argmin_z || FR(x) - FR(G(z, y_0)) ||^2            (y_0: x's own level; `identity_search`)
with FR a recogniser's features (here the 128-unit features of a digit classifier trained on the real images,
seed `model.recogniser_seed`, a different network from the one that scores the edits), minimised by Adam for
`model.search_steps` steps (the paper: L-BFGS-B); the aged image is G(z*, y_target).

The `attribute_edit` evaluator (registered here) measures reconstruction and edits with a class classifier
trained on the real images and the MEASURED stroke thickness (`gen_jax.data.digit_attributes.thickness`),
before and after the latent optimisation for Age-cGAN.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.gan.steps import GAN
from gen_jax.ganzoo.dtn import _apply, source_classifier
from gen_jax.ganzoo.heads import DCGANHeads


def latent_recovery_loss(z, z_hat):
    """IcGAN's L_ez per example: ||z - E_z(G(z, y))||^2 (Perarnau et al. 2016, Eq. 3). [B, L] -> [B]."""
    if z.shape != z_hat.shape or z.ndim != 2:
        raise ValueError(f"latent_recovery_loss: expected two [B, L] arrays of one shape, got {z.shape}, "
                         f"{z_hat.shape}")
    return jnp.sum((z - z_hat) ** 2, -1)


def identity_distance(fx, fgz):
    """Age-cGAN's identity objective per example: ||FR(x) - FR(G(z, y))||^2 (Antipov et al. 2017, Eq. 3,
    the squared Euclidean distance of the recogniser's features). [B, F] -> [B]."""
    if fx.shape != fgz.shape or fx.ndim != 2:
        raise ValueError(f"identity_distance: expected two [B, F] arrays of one shape, got {fx.shape}, {fgz.shape}")
    return jnp.sum((fx - fgz) ** 2, -1)


def identity_search(generate, recognise, x, z0, num_steps: int, learning_rate: float):
    """Age-cGAN's identity-preserving optimisation for ONE image x (Antipov et al. 2017, Sec. 3.3).

    generate: z [L] -> G(z, y_0) (x's shape); recognise: image -> FR features [F]; z0: [L], E(x).
    Adam on z for num_steps steps (a `lax.scan`; deterministic: no randomness at all).
    Returns (z* [L], objectives [num_steps + 1]: the distance at z_0, ..., at z*)."""
    if num_steps < 1:
        raise ValueError(f"identity_search needs num_steps >= 1, got {num_steps}")
    fx = jax.lax.stop_gradient(recognise(x))[None]
    objective = lambda z: identity_distance(fx, recognise(generate(z))[None])[0]
    tx = optax.adam(learning_rate)

    def step(carry, _):
        z, opt = carry
        value, g = jax.value_and_grad(objective)(z)
        upd, opt = tx.update(g, opt, z)
        return (optax.apply_updates(z, upd), opt), value

    (z, _), values = jax.lax.scan(step, (z0, tx.init(z0)), None, length=num_steps)
    return z, jnp.concatenate([values, objective(z)[None]])


@register("icgan")
class IcGANExperiment(Experiment):
    """Invertible conditional GAN (see the module docstring)."""

    with_class_encoder = True

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if not m.get("conditional", False) or m.get("arch", "dcgan") != "dcgan":
            raise ValueError(f"{self.name} is a conditional DCGAN: set model.arch='dcgan', model.conditional=True")
        self.class_feature = m.get("class_feature", "label") if self.with_class_encoder else ""
        self.attribute_feature = m.get("attribute_feature", "thickness_level")
        for f in (self.class_feature, self.attribute_feature):
            if f and (f not in info.features or not info.features[f].num_classes):
                raise ValueError(f"model: {f!r} must be a class feature of {info.name!r} ({', '.join(info.features)})")
        self.num_attr = info.features[self.attribute_feature].num_classes
        self.num_cls = info.features[self.class_feature].num_classes if self.class_feature else 1
        self.gan = GAN(m, info.shape, info.num_levels, self.num_cls * self.num_attr)
        self.latent_dim = self.gan.latent_dim
        size, ef, norm = info.shape[0], int(m.get("e_features", 32)), m.get("e_norm", "batch")
        self.e_z = DCGANHeads(image_size=size, heads={"z": self.latent_dim}, features=ef, norm=norm)
        heads = {"attribute": self.num_attr}
        if self.class_feature:
            heads["class"] = self.num_cls
        self.e_y = DCGANHeads(image_size=size, heads=heads, features=ef, norm=norm)

    def joint(self, cls, level):
        return (jnp.asarray(cls, jnp.int32) * self.num_attr + jnp.asarray(level, jnp.int32)) if self.class_feature \
            else jnp.asarray(level, jnp.int32)

    def attributes(self, batch):
        return (batch[self.class_feature] if self.class_feature else jnp.zeros_like(batch[self.attribute_feature]),
                batch[self.attribute_feature])

    # -- state --------------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        kg, kz, ky = jax.random.split(rng, 3)
        params, model_state = self.gan.init(kg)
        x = jnp.zeros((2,) + self.gan.data_shape)
        for name, mod, k in (("encoder_z", self.e_z, kz), ("encoder_y", self.e_y, ky)):
            v = mod.init(k, x, train=False)
            params[name] = v["params"]
            model_state[name] = {c: s for c, s in v.items() if c != "params"}
        g_tx = make_optimizer(self.config.optim)
        d_tx = make_optimizer(self.config.d_optim) if self.config.get("d_optim") else make_optimizer(self.config.optim)
        tx = {"generator": g_tx, "discriminator": d_tx, "encoder_z": make_optimizer(self.config.optim),
              "encoder_y": make_optimizer(self.config.optim)}
        return TrainState.create(params=params, tx=tx, rng=rng, model_state=model_state,
                                 ema_decay=self.config.get("ema_decay") or None)

    # -- encoders -----------------------------------------------------------------------------------------
    def encode(self, state, x_pm1, train=False):
        """(E_z(x) [B, L], {'attribute': [B, A], 'class': [B, C]} logits of E_y(x)) in inference mode."""
        p, ms = state.params, state.model_state
        z, _ = _apply(self.e_z, p["encoder_z"], ms["encoder_z"], train, x_pm1)
        y, _ = _apply(self.e_y, p["encoder_y"], ms["encoder_y"], train, x_pm1)
        return z["z"], y

    def generate(self, state, z, joint):
        """G(z, y) in [-1, 1] in inference mode (the EMA generator when kept)."""
        return self.gan.sample(state, z, joint)

    def encoder_losses(self, state, x_pm1, cls, level, rng):
        """Per-example L_ez on fresh fakes and L_ey on the real batch, and the encoders' new collections."""
        b = x_pm1.shape[0]
        kz, ky = jax.random.split(rng)
        z = self.gan.sample_latent(kz, b)
        y_fake = jax.random.randint(ky, (b,), 0, self.num_cls * self.num_attr)
        fake = jax.lax.stop_gradient(self.gan.generate(state.params["generator"], state.model_state["generator"],
                                                       z, y_fake, train=False)[0])

        def l_ez(p):
            out, st = _apply(self.e_z, p, state.model_state["encoder_z"], True, fake)
            return jnp.mean(latent_recovery_loss(z, out["z"])), st

        def l_ey(p):
            out, st = _apply(self.e_y, p, state.model_state["encoder_y"], True, x_pm1)
            loss = optax.softmax_cross_entropy_with_integer_labels(out["attribute"], level)
            if self.class_feature:
                loss = loss + optax.softmax_cross_entropy_with_integer_labels(out["class"], cls)
            return jnp.mean(loss), st

        return l_ez, l_ey

    def train_step(self, state, batch, rng):
        cls, level = self.attributes(batch)
        kg, ke = jax.random.split(rng)
        state, metrics = self.gan.train_step(state, {"x": batch["x"], "label": self.joint(cls, level)}, kg)
        x = self.gan.preprocess(batch["x"])
        l_ez, l_ey = self.encoder_losses(state, x, jnp.asarray(cls, jnp.int32), jnp.asarray(level, jnp.int32), ke)
        for name, fn in (("encoder_z", l_ez), ("encoder_y", l_ey)):
            (loss, st), g = jax.value_and_grad(fn, has_aux=True)(state.params[name])
            state = state.apply_gradients(g, player=name, model_state=st)
            metrics[f"{name}_loss"] = loss
        return state, metrics

    def eval_step(self, state, batch, rng):
        """Per test example: E_y's accuracies and the L1 error of the reconstruction G(E_z(x), E_y(x))."""
        x = self.gan.preprocess(batch["x"])
        cls, level = self.attributes(batch)
        z, y = self.encode(state, x)
        lv = jnp.argmax(y["attribute"], -1)
        c = jnp.argmax(y["class"], -1) if self.class_feature else jnp.zeros_like(lv)
        rec = self.generate(state, z, self.joint(c, lv))
        out = dict(attribute_accuracy=(lv == level).astype(jnp.float32),
                   recon_l1=jnp.mean(jnp.abs(rec - x), (1, 2, 3)) / 2.0)
        if self.class_feature:
            out["class_accuracy"] = (c == cls).astype(jnp.float32)
        return out

    def visualize(self, state, rng):
        """Rows: 8 test images, their reconstructions, then the edits to each attribute level."""
        batch = self.example_batch(8)
        x = self.gan.preprocess(batch["x"])
        z, y = self.encode(state, x)
        c = jnp.argmax(y["class"], -1) if self.class_feature else jnp.zeros((8,), jnp.int32)
        rows = [x, self.generate(state, z, self.joint(c, jnp.argmax(y["attribute"], -1)))]
        rows += [self.generate(state, z, self.joint(c, jnp.full((8,), lv))) for lv in range(self.num_attr)]
        return {"edits": self.gan.to_images01(jnp.concatenate(rows))}

    # -- editing (host side, for the evaluator) -----------------------------------------------------------
    def latents(self, state, x_pm1, level):
        """{'initial': z_0 = E_z(x)} (IcGAN has no latent optimisation)."""
        return {"initial": self.encode(state, x_pm1)[0]}


@register("agecgan")
class AgeCGANExperiment(IcGANExperiment):
    """Age-cGAN: the cGAN on the ordinal attribute, z_0 = E(x), then the identity-preserving optimisation."""

    with_class_encoder = False

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        self.search_steps = int(m.get("search_steps", 50))
        self.search_lr = float(m.get("search_lr", 0.05))
        self.recogniser = source_classifier(info.name, m.get("recogniser_split", "train"),
                                            m.get("recogniser_arch", "mlp"), int(m.get("recogniser_steps", 1500)),
                                            config.get("data_dir"), int(m.get("recogniser_seed", 1)))

    def recognise(self, x_pm1):
        """FR(x) [B, 128]: the recogniser's features of images in [-1, 1]."""
        return self.recogniser.module.apply({"params": self.recogniser.params}, (x_pm1 + 1.0) / 2.0)[1]

    def optimise(self, state, x_pm1, level):
        """(z* [B, L], objectives [B, steps + 1]) of `identity_search` from z_0 = E(x), y_0 = x's own level."""
        z0 = self.encode(state, x_pm1)[0]
        params = state.eval_params()["generator"]
        ms = state.model_state["generator"]

        def one(x, z, lv):
            gen = lambda v: self.gan.generate(params, ms, v[None], lv[None], train=False)[0][0]
            rec = lambda img: self.recognise(img[None])[0]
            return identity_search(gen, rec, x, z, self.search_steps, self.search_lr)

        return jax.vmap(one)(x_pm1, z0, jnp.asarray(level, jnp.int32))

    def latents(self, state, x_pm1, level):
        z0 = self.encode(state, x_pm1)[0]
        z, values = self.optimise(state, x_pm1, level)
        return {"initial": z0, "optimised": z, "objective_initial": values[:, 0], "objective_optimised": values[:, -1]}


@register_evaluator("attribute_edit")
class AttributeEdit(Evaluator):
    """Reconstruction and attribute editing of `num_examples` images of `split` (IcGAN / Age-cGAN).

    For each latent the experiment gives (`initial` z_0 = E_z(x); for Age-cGAN also `optimised` z*):
    * recon_class_acc: a class classifier (`classifier`, trained on the real images of the dataset, seed 0)
      labels G(z, y_x) with x's class -- identity preservation; recon_feature_dist: the squared distance of
      that classifier's features between x and G(z, y_x), per feature; recon_l1 (images in [0, 1]);
    * level edits, each level l: G(z, (c_x, l)): thickness_edit_acc, the fraction whose MEASURED stroke
      thickness falls in level l's bin (bins: midpoints between the medians of the real images' measured
      thickness per level, train split), level_edit_class_kept (the classifier keeps x's class),
      thickness_monotone (fraction of images whose measured thickness increases strictly with l);
    * class edits (IcGAN): G(z, (c', l_x)) for every c' != c_x: class_edit_acc (the classifier says c').
    The images are `num_examples` drawn without replacement from the split by a permutation seeded with the
    evaluator's seed (the stored splits are ordered by digit). Also the real test images' bin accuracy (real_thickness_acc) and classifier accuracy (real_class_acc), the
    ceilings. Settings: num_examples (400), batch_size, classifier ('' = the dataset itself), thickness
    ('thickness': the dataset's float feature of the measured thickness)."""

    def known_settings(self):
        return ("num_examples", "batch_size", "classifier", "thickness")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.num = int(self.settings.get("num_examples", 400))
        self.batch_size = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        self._fns = None

    def run(self, state, step):
        from gen_jax import data as data_lib
        from gen_jax.data import digit_attributes
        from gen_jax.translation.steps import _classifier

        exp = self.trainer.experiment
        if not hasattr(exp, "latents"):
            raise ValueError(f"evaluator {self.prefix!r} (attribute_edit) needs an IcGAN-like experiment, got "
                             f"{type(exp).__name__}")
        ddir = self.config.get("data_dir")
        clf = _classifier(self.settings.get("classifier", "") or self.dataset, ddir, "mlp")
        arr = data_lib.load_arrays(self.dataset, self.split, data_dir=ddir)
        n_all = len(arr["x"])
        pick = np.sort(np.random.default_rng(self.seed).permutation(n_all)[:min(self.num, n_all)])
        x, cls = arr["x"][pick], np.asarray(arr[exp.class_feature or "label"])[pick]
        lvl = np.asarray(arr[exp.attribute_feature])[pick]
        tr = data_lib.load_arrays(self.dataset, self.config.get("train_split", "train"), data_dir=ddir,
                                  features=(self.settings.get("thickness", "thickness"), exp.attribute_feature))
        th, tl = np.asarray(tr[self.settings.get("thickness", "thickness")]), np.asarray(tr[exp.attribute_feature])
        med = np.array([np.median(th[tl == k]) for k in range(exp.num_attr)])
        edges = (med[1:] + med[:-1]) / 2
        to_bin = lambda t: np.searchsorted(edges, t)
        levels = float(exp.gan.num_levels - 1)
        if self._fns is None:
            self._fns = (jax.jit(exp.latents), jax.jit(exp.generate))
        latents_fn, gen_fn = self._fns
        pm1 = lambda v: np.asarray(v, np.float32) / levels * 2 - 1
        to01 = lambda v: np.clip((np.asarray(v) + 1) / 2, 0, 1)
        zs = {}
        for s in range(0, len(x), self.batch_size):
            out = jax.device_get(latents_fn(state, jnp.asarray(pm1(x[s:s + self.batch_size])),
                                            jnp.asarray(lvl[s:s + self.batch_size])))
            for k, v in out.items():
                zs.setdefault(k, []).append(np.asarray(v))
        zs = {k: np.concatenate(v) for k, v in zs.items()}
        gen = lambda z, c, lv: to01(np.concatenate([np.asarray(gen_fn(state, jnp.asarray(z[s:s + self.batch_size]),
                                                                      exp.joint(c[s:s + self.batch_size],
                                                                                lv[s:s + self.batch_size])))
                                                    for s in range(0, len(z), self.batch_size)]))
        x01 = np.asarray(x, np.float32) / levels
        fx = np.asarray(clf.features(x01))
        c_in = cls if exp.class_feature else np.zeros_like(cls)
        out = {"real_class_acc": float(np.mean(np.asarray(clf.predict(x01)) == cls)),
               "real_thickness_acc": float(np.mean(to_bin(digit_attributes.thickness(x01[..., 0], 1.0)) == lvl))}
        for k in ("objective_initial", "objective_optimised"):
            if k in zs:
                out[k] = float(zs[k].mean())
        for name in ("initial", "optimised"):
            if name not in zs:
                continue
            z = zs[name]
            rec = gen(z, c_in, lvl)
            out[f"{name}/recon_class_acc"] = float(np.mean(np.asarray(clf.predict(rec)) == cls))
            out[f"{name}/recon_feature_dist"] = float(np.mean((np.asarray(clf.features(rec)) - fx) ** 2))
            out[f"{name}/recon_l1"] = float(np.mean(np.abs(rec - x01)))
            ths, acc, kept = [], [], []
            for lv in range(exp.num_attr):
                e = gen(z, c_in, np.full_like(lvl, lv))
                t = digit_attributes.thickness(e[..., 0], 1.0)
                ths.append(t)
                acc.append(np.mean(to_bin(t) == lv))
                kept.append(np.mean(np.asarray(clf.predict(e)) == cls))
            out[f"{name}/thickness_edit_acc"] = float(np.mean(acc))
            out[f"{name}/level_edit_class_kept"] = float(np.mean(kept))
            out[f"{name}/thickness_monotone"] = float(np.mean(np.all(np.diff(np.stack(ths), axis=0) > 0, 0)))
            if exp.class_feature:
                hits = []
                for c2 in range(exp.num_cls):
                    sel = cls != c2
                    if not sel.any():
                        continue
                    e = gen(z[sel], np.full(sel.sum(), c2), lvl[sel])
                    hits.append(np.asarray(clf.predict(e)) == c2)
                out[f"{name}/class_edit_acc"] = float(np.mean(np.concatenate(hits)))
        return out.items()

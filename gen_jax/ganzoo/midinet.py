"""MidiNet (Yang, Chou & Yang 2017, "MidiNet: A Convolutional Generative Adversarial Network for
Symbolic-domain Music Generation"): a convolutional GAN over one-bar piano rolls whose generator also reads
the PREVIOUS bar through a conditioner CNN, with an optional 1-D chord condition, trained with feature
matching; melodies are generated bar after bar and exported as MIDI files.

Data: `gen_jax.data.chorale_bars` (features ``x`` the bar [16, P, 1], ``prev`` the previous bar, ``chord``),
or a user's MIDI folder read the same way (`gen_jax.ganzoo.pianoroll.midi_folder_bars`).

Networks (paper Sec. 3 and Fig. 1; sizes are config values, the paper's in brackets):

* generator: z [latent_dim = 100] and the chord vector y (13-d: one-hot root and a minor flag) ->
  Dense(g_hidden [1024]) -> Dense(2 * g_features) reshaped to [2 steps, 1, g_features] -> three transposed
  convs of kernel (2, 1), stride (2, 1) over time (2 -> 4 -> 8 -> 16 steps, g_features [128] channels) ->
  a transposed conv of kernel (1, P), stride (1, P) that spreads the pitch axis -> sigmoid [16, P, 1].
  Batch norm (no bias before it) and ReLU after every hidden layer; y is concatenated to z, to the dense layers' outputs and, as
  constant channels, to every conv layer's input ("1-D conditions", Sec. 3.3).
* conditioner (Sec. 3.3, "2-D conditions"): the previous bar [16, P, 1] -> Conv(c_features [16], kernel
  (1, P)) -> [16, 1] -> three Conv(kernel (2, 1), stride (2, 1)) -> [8, 1], [4, 1], [2, 1]; each map is
  concatenated (channels) to the generator's layer of the same number of steps. It reads ``prev`` only.
  ``model.conditioner = False`` removes it (the ablation "without the conditioner").
* discriminator: [y channels +] bar -> Conv(d_features1 [14], kernel (2, P), stride 2) -> LeakyReLU = the
  features f used by feature matching -> [y channels +] Conv(d_features2 [77], kernel (4, 1), stride 2) ->
  BN, LeakyReLU -> [y +] Dense(d_hidden [1024]) -> BN, LeakyReLU -> [y +] Dense(1): one logit.

Step: one discriminator update, then ``model.g_steps`` [2] generator updates (each with fresh z), the GAN
family's losses (`gen_jax.gan.losses.get_loss(model.loss)`) plus feature matching (Sec. 3.4):
    L_G = mean L_adv(D(G(z))) + lambda_1 ||E x - E G(z)||^2 + lambda_2 ||E f(x) - E f(G(z))||^2
(`feature_matching_loss`; lambda_1 = model.fm_data [0.1], lambda_2 = model.fm_features [1.0]).

Generation (`generate_melodies`): bar 0 from an empty previous bar, then bar k from bar k-1 binarised at
0.5, each from its own z and the chord of bar k (a held-out chorale's chord sequence).
"""
from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.core.evaluators import Evaluator, register_evaluator
from gen_jax.core.experiment import Experiment, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.gan import losses as gan_losses
from gen_jax.gan.steps import GAN
from gen_jax.ganzoo import pianoroll

CHORD_DIM = 13


def chord_vector(chord):
    """MidiNet's 13-d chord condition of chord classes (root + 12 * minor) [B]: one-hot root, minor flag."""
    chord = jnp.asarray(chord, jnp.int32)
    return jnp.concatenate([jax.nn.one_hot(chord % 12, 12), (chord // 12)[:, None].astype(jnp.float32)], -1)


def concat_condition(h, y):
    """h [B, ...spatial, C] with the vector y [B, K] appended as K constant channels (or h if y is None)."""
    if y is None:
        return h
    y = y.reshape((y.shape[0],) + (1,) * (h.ndim - 2) + (y.shape[-1],))
    return jnp.concatenate([h, jnp.broadcast_to(y, h.shape[:-1] + (y.shape[-1],))], -1)


def feature_matching_loss(f_real, f_fake):
    """||E f(x) - E f(G(z))||_2^2 (Salimans et al. 2016, Sec. 3.1; MidiNet Sec. 3.4): the squared distance of
    the batch means of features [B, ...]. A statistic of the whole batch, so it returns a scalar (not [B])."""
    if f_real.shape[1:] != f_fake.shape[1:]:
        raise ValueError(f"feature_matching_loss: features of shapes {f_real.shape} and {f_fake.shape} differ")
    d = jnp.mean(f_real.reshape(f_real.shape[0], -1), 0) - jnp.mean(f_fake.reshape(f_fake.shape[0], -1), 0)
    return jnp.sum(d ** 2)


class Conditioner(nn.Module):
    """The previous bar [B, T, P, 1] -> {steps: feature map [B, steps, 1, features]} for steps T, T/2, T/4, T/8."""
    features: int = 16

    @nn.compact
    def __call__(self, prev, train: bool = True):
        bn = lambda h: nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        h = nn.leaky_relu(bn(nn.Conv(self.features, (1, prev.shape[2]), padding="VALID", use_bias=False)(prev)), 0.2)
        maps = {h.shape[1]: h}
        for _ in range(3):
            h = nn.leaky_relu(bn(nn.Conv(self.features, (2, 1), strides=(2, 1), padding="VALID", use_bias=False)(h)), 0.2)
            maps[h.shape[1]] = h
        return maps


class MidiNetGenerator(nn.Module):
    """(z [B, L], prev [B, T, P, 1] or None, y [B, 13] or None) -> bars [B, T, P, 1] in (0, 1)."""
    steps: int = 16
    pitches: int = 24
    hidden: int = 1024
    features: int = 128
    cond_features: int = 16
    conditioner: bool = True

    @nn.compact
    def __call__(self, z, prev=None, y=None, train: bool = True):
        if self.steps % 8:
            raise ValueError(f"MidiNetGenerator: steps per bar must be a multiple of 8, got {self.steps}")
        if self.conditioner and prev is None:
            raise ValueError("MidiNetGenerator has a conditioner: pass the previous bar `prev`")
        bn = lambda h: nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        cond = Conditioner(self.cond_features, name="conditioner")(prev, train) if self.conditioner else {}
        cat = lambda h: h if y is None else jnp.concatenate([h, y], -1)
        h = nn.relu(bn(nn.Dense(self.hidden, use_bias=False)(cat(z))))
        t = self.steps // 8
        h = nn.relu(bn(nn.Dense(t * self.features, use_bias=False)(cat(h)))).reshape(z.shape[0], t, 1, self.features)
        for _ in range(3):
            h = concat_condition(jnp.concatenate([h, cond[t]], -1) if cond else h, y)
            h = nn.relu(bn(nn.ConvTranspose(self.features, (2, 1), strides=(2, 1), padding="VALID", use_bias=False)(h)))
            t *= 2
        h = concat_condition(jnp.concatenate([h, cond[t]], -1) if cond else h, y)
        h = nn.ConvTranspose(1, (1, self.pitches), strides=(1, self.pitches), padding="VALID")(h)
        return nn.sigmoid(h)


class MidiNetDiscriminator(nn.Module):
    """(bars [B, T, P, 1], y [B, 13] or None) -> (logits [B], features f [B, F] of the first layer)."""
    features1: int = 14
    features2: int = 77
    hidden: int = 1024

    @nn.compact
    def __call__(self, x, y=None, train: bool = True):
        bn = lambda h: nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        h = nn.leaky_relu(nn.Conv(self.features1, (2, x.shape[2]), strides=(2, 1), padding="VALID")(
            concat_condition(x, y)), 0.2)
        f = h.reshape(h.shape[0], -1)
        h = nn.leaky_relu(bn(nn.Conv(self.features2, (4, 1), strides=(2, 1), padding="VALID", use_bias=False)(
            concat_condition(h, y))), 0.2)
        h = h.reshape(h.shape[0], -1)
        cat = lambda a: a if y is None else jnp.concatenate([a, y], -1)
        h = nn.leaky_relu(bn(nn.Dense(self.hidden, use_bias=False)(cat(h))), 0.2)
        return nn.Dense(1)(cat(h))[:, 0], f


class MidiNet:
    """The pure pieces of MidiNet built from config.model (see the module docstring)."""

    def __init__(self, m, bar_shape):
        self.steps, self.pitches = int(bar_shape[0]), int(bar_shape[1])
        self.latent_dim = int(m.get("latent_dim", 100))
        self.use_chord = bool(m.get("chord", True))
        self.use_conditioner = bool(m.get("conditioner", True))
        self.g_steps = int(m.get("g_steps", 2))
        if self.g_steps < 1:
            raise ValueError(f"model.g_steps must be >= 1, got {self.g_steps}")
        self.fm_data = float(m.get("fm_data", 0.1))
        self.fm_features = float(m.get("fm_features", 1.0))
        self.loss = gan_losses.get_loss(m.get("loss", "nonsaturating"))
        self.generator = MidiNetGenerator(self.steps, self.pitches, int(m.get("g_hidden", 1024)),
                                          int(m.get("g_features", 128)), int(m.get("c_features", 16)),
                                          self.use_conditioner)
        self.discriminator = MidiNetDiscriminator(int(m.get("d_features1", 14)), int(m.get("d_features2", 77)),
                                                  int(m.get("d_hidden", 1024)))

    def condition(self, batch):
        """(prev [B, T, P, 1] float or None, y [B, 13] or None) of a batch."""
        prev = jnp.asarray(batch["prev"], jnp.float32) if self.use_conditioner else None
        y = chord_vector(batch["chord"]) if self.use_chord else None
        return prev, y

    def init(self, rng):
        kg, kd = jax.random.split(rng)
        n = 2
        x = jnp.zeros((n, self.steps, self.pitches, 1))
        y = jnp.zeros((n, CHORD_DIM)) if self.use_chord else None
        gv = self.generator.init(kg, jnp.zeros((n, self.latent_dim)), x if self.use_conditioner else None, y,
                                 train=False)
        dv = self.discriminator.init(kd, x, y, train=False)
        split = lambda v: (v["params"], {k: c for k, c in v.items() if k != "params"})
        (gp, gs), (dp, ds) = split(gv), split(dv)
        return {"generator": gp, "discriminator": dp}, {"generator": gs, "discriminator": ds}

    def generate(self, params, state, z, prev, y, train=False):
        return GAN._apply(self.generator, params, state, train, z, prev, y)

    def discriminate(self, params, state, x, y, train=True):
        return GAN._apply(self.discriminator, params, state, train, x, y)

    def discriminator_loss(self, d_params, d_state, real, fake, y):
        (real_l, _), d_state = self.discriminate(d_params, d_state, real, y)
        (fake_l, _), d_state = self.discriminate(d_params, d_state, fake, y)
        loss = jnp.mean(self.loss.discriminator(real_l, fake_l))
        acc = 0.5 * (jnp.mean(real_l > 0) + jnp.mean(fake_l < 0))
        return loss, (d_state, dict(d_loss=loss, d_accuracy=acc, real_logit=jnp.mean(real_l),
                                    fake_logit=jnp.mean(fake_l)))

    def generator_loss(self, g_params, g_state, d_params, d_state, real, z, prev, y):
        fake, g_state = self.generate(g_params, g_state, z, prev, y, train=True)
        (logits, f_fake), _ = self.discriminate(d_params, d_state, fake, y)
        (_, f_real), _ = self.discriminate(d_params, d_state, real, y)
        adv = jnp.mean(self.loss.generator(logits))
        fm_x = feature_matching_loss(real, fake)
        fm_f = feature_matching_loss(jax.lax.stop_gradient(f_real), f_fake)
        total = adv + self.fm_data * fm_x + self.fm_features * fm_f
        return total, (g_state, dict(g_adv=adv, fm_data=fm_x, fm_features=fm_f))

    def train_step(self, state, batch, rng):
        real = jnp.asarray(batch["x"], jnp.float32)
        prev, y = self.condition(batch)
        b = real.shape[0]
        kd, kg = jax.random.split(rng)
        fake, _ = self.generate(state.params["generator"], state.model_state["generator"],
                                jax.random.normal(kd, (b, self.latent_dim)), prev, y, train=True)
        grads, (d_state, d_metrics) = jax.grad(self.discriminator_loss, has_aux=True)(
            state.params["discriminator"], state.model_state["discriminator"], real, jax.lax.stop_gradient(fake), y)
        state = state.apply_gradients(grads, player="discriminator", model_state=d_state)

        def g_update(st, i):
            z = jax.random.normal(jax.random.fold_in(kg, i), (b, self.latent_dim))
            (loss, (g_state, m)), g = jax.value_and_grad(self.generator_loss, has_aux=True)(
                st.params["generator"], st.model_state["generator"], st.params["discriminator"],
                st.model_state["discriminator"], real, z, prev, y)
            return st.apply_gradients(g, player="generator", model_state=g_state), dict(m, g_loss=loss)

        state, g_metrics = jax.lax.scan(g_update, state, jnp.arange(self.g_steps))
        return state, dict(d_metrics, **jax.tree.map(lambda v: v[-1], g_metrics))

    def generate_melodies(self, params, g_state, rng, chords, num_melodies: int, num_bars: int):
        """uint8 [S, num_bars, T, P] melodies generated bar after bar (see the module docstring); chords
        [S, num_bars] chord classes (ignored without the chord condition)."""
        empty = jnp.zeros((num_melodies, self.steps, self.pitches, 1))

        def bar(prev, inputs):
            k, chord = inputs
            y = chord_vector(chord) if self.use_chord else None
            out, _ = self.generate(params, g_state, jax.random.normal(k, (num_melodies, self.latent_dim)),
                                   prev if self.use_conditioner else None, y, train=False)
            out = (out > 0.5).astype(jnp.float32)
            return out, out[..., 0].astype(jnp.uint8)

        keys = jax.random.split(rng, num_bars)
        _, bars = jax.lax.scan(bar, empty, (keys, jnp.asarray(chords, jnp.int32).T))
        return jnp.swapaxes(bars, 0, 1)


@register("midinet")
class MidiNetExperiment(Experiment):
    """MidiNet on piano-roll bars (see the module docstring). config.model: latent_dim, chord, conditioner,
    g_steps, fm_data, fm_features, loss, g_hidden, g_features, c_features, d_features1, d_features2, d_hidden."""

    def __init__(self, config, info):
        super().__init__(config, info)
        for k in ("x", "prev", "chord"):
            if k not in info.features:
                raise ValueError(f"midinet trains on piano-roll bars with features x, prev and chord; {info.name!r} "
                                 f"has {', '.join(info.features)}")
        shape = tuple(info.features["x"].shape)
        if len(shape) != 3 or shape[-1] != 1 or tuple(info.features["prev"].shape) != shape:
            raise ValueError(f"midinet: x and prev must be bars [steps, pitches, 1], got {shape} and "
                             f"{tuple(info.features['prev'].shape)}")
        self.net = MidiNet(config.model, shape)
        self._visualize = jax.jit(self._grids)

    def init_state(self, rng, batch):
        params, model_state = self.net.init(rng)
        c = self.config
        d_tx = make_optimizer(c.d_optim) if c.get("d_optim") else make_optimizer(c.optim)
        return TrainState.create(params=params, tx={"generator": make_optimizer(c.optim), "discriminator": d_tx},
                                 rng=rng, model_state=model_state, ema_decay=c.get("ema_decay") or None)

    def train_step(self, state, batch, rng):
        return self.net.train_step(state, batch, rng)

    def eval_step(self, state, batch, rng):
        """Per test bar: D's loss against a fresh fake with the same previous bar and chord."""
        n = self.net
        real = jnp.asarray(batch["x"], jnp.float32)
        prev, y = n.condition(batch)
        fake, _ = n.generate(state.eval_params()["generator"], state.model_state["generator"],
                             jax.random.normal(rng, (real.shape[0], n.latent_dim)), prev, y, train=False)
        d = lambda x: n.discriminate(state.params["discriminator"], state.model_state["discriminator"], x, y,
                                     train=False)[0][0]
        rl, fl = d(real), d(fake)
        return dict(d_loss=n.loss.discriminator(rl, fl), real_logit=rl, fake_logit=fl)

    def melodies(self, state, rng, chords, num_melodies: int, num_bars: int):
        return self.net.generate_melodies(state.eval_params()["generator"], state.model_state["generator"], rng,
                                          chords, num_melodies, num_bars)

    def _grids(self, state):
        """8 melodies of 8 bars from fixed keys (C major / A minor chords I-IV-V-I), as piano-roll images:
        time runs left to right, pitch upwards."""
        chords = jnp.tile(jnp.asarray([0, 5, 7, 0, 9 + 12, 2 + 12, 7, 0]), (8, 1))
        m = self.melodies(state, jax.random.PRNGKey(self.config.seed), chords, 8, 8)     # [8, 8, T, P]
        rolls = jnp.transpose(m, (0, 3, 1, 2)).reshape(8, self.net.pitches, -1)[:, ::-1]  # [8, P, 8T]
        return {"melodies": rolls[..., None].astype(jnp.float32)}

    def visualize(self, state, rng):
        del rng
        return self._visualize(state)


@register_evaluator("melody_stats")
class MelodyStats(Evaluator):
    """Melody statistics (`gen_jax.ganzoo.pianoroll.melody_statistics`) of num_melodies melodies of num_bars
    bars generated bar after bar on the chord sequences of the split's chorales (those with >= num_bars bars,
    cycled), against the same chorales' real bars (metrics ``data_*``). Writes the first num_midi melodies as
    MIDI files to workdir/midi/. Settings: num_melodies (64), num_bars (8), num_midi (4)."""

    def known_settings(self):
        return ("num_melodies", "num_bars", "num_midi")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.num_melodies = int(self.settings.get("num_melodies", 64))
        self.num_bars = int(self.settings.get("num_bars", 8))
        self.num_midi = int(self.settings.get("num_midi", 4))
        self._compiled = None
        self._data = None

    def _reference(self):
        from gen_jax import data as data_lib

        if self._data is None:
            a = data_lib.load_arrays(self.dataset, self.split, data_dir=self.config.get("data_dir"))
            song = np.asarray(a["chorale"] if "chorale" in a else a["song"])
            x, chord, bar = np.asarray(a["x"])[..., 0], np.asarray(a["chord"]), np.asarray(a["bar"])
            seqs, chords = [], []
            for s in np.unique(song):
                idx = np.flatnonzero(song == s)
                idx = idx[np.argsort(bar[idx], kind="stable")][:self.num_bars]
                if len(idx) == self.num_bars:
                    seqs.append(x[idx])
                    chords.append(chord[idx])
            if not seqs:
                raise ValueError(f"evaluator {self.prefix!r}: no song of {self.dataset!r} {self.split!r} has "
                                 f"{self.num_bars} bars")
            pick = np.arange(self.num_melodies) % len(seqs)
            self._data = (x, np.stack(seqs), np.stack(chords)[pick])
        return self._data

    def run(self, state, step):
        exp = self.trainer.experiment
        x, seqs, chords = self._reference()
        if self._compiled is None:
            self._compiled = jax.jit(exp.melodies, static_argnums=(3, 4))
        gen = np.asarray(jax.device_get(self._compiled(state, jax.random.PRNGKey(self.seed), chords,
                                                       self.num_melodies, self.num_bars)))
        out = pianoroll.melody_statistics(gen.reshape((-1,) + gen.shape[2:]), reference=x,
                                          sequences=self.num_melodies)
        ref = pianoroll.melody_statistics(seqs.reshape((-1,) + seqs.shape[2:]), reference=x, sequences=len(seqs))
        out.update({f"data_{k}": v for k, v in ref.items()})
        workdir = getattr(self.trainer, "workdir", None)
        if workdir and self.num_midi and getattr(self.trainer, "is_main", True):
            os.makedirs(os.path.join(workdir, "midi"), exist_ok=True)
            for k in range(min(self.num_midi, len(gen))):
                pianoroll.write_midi(os.path.join(workdir, "midi", f"{self.prefix}_{step}_{k}.mid"),
                                     gen[k].reshape(-1, gen.shape[-1]))
        return out.items()

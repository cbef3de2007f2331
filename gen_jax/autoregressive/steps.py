"""Autoregressive models on the engine: train / eval steps, sample and completion grids.

config.model:
  name:       'pixelcnn' | 'gated_pixelcnn' | 'pixelcnn_pp' | 'row_lstm' | 'diagonal_bilstm'
  data:       'levels' (model the dataset's K levels: 17 for digits, 256 for 8-bit images) or 'binarized'
              (x >= K // 2, fixed: the protocol's 'binarized digits', `gen_jax.metrics.likelihood`)
  head:       'categorical' (K-way softmax per sub-pixel) or 'logistic_mixture' (with num_mixtures)
  conditional: class-conditional (Gated PixelCNN only)
  kwargs:     the model's own attributes (features, num_blocks / num_layers, kernels, dropout, ...)
  cached_sampling: use the fast cached sampler for the grids when the model has one

Evaluation is the exact test NLL per image in nats (`nll_nats`) and in bits per dimension (`nll_bpd`,
nats / (H W C ln 2)): the discrete likelihood itself under the common protocol, not a bound.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gen_jax.autoregressive import losses, models, sampling
from gen_jax.core.experiment import Experiment, register
from gen_jax.data import preprocess as pp
from gen_jax.metrics.likelihood import bits_per_dim

DATA_MODES = ("levels", "binarized")


@register("autoregressive")
class AutoregressiveExperiment(Experiment):
    """PixelCNN, Gated PixelCNN, PixelCNN++, Row LSTM and Diagonal BiLSTM trained by exact maximum likelihood."""

    def __init__(self, config, info):
        super().__init__(config, info)
        m = config.model
        if len(info.shape) != 3 or info.num_levels is None:
            raise ValueError(f"autoregressive image models need an image dataset with discrete levels; "
                             f"{info.name!r} has shape {info.shape} and num_levels {info.num_levels}")
        self.data_mode = m.get("data", "levels")
        if self.data_mode not in DATA_MODES:
            raise ValueError(f"unknown model.data {self.data_mode!r}; expected one of {DATA_MODES}")
        self.raw_levels = int(info.num_levels)
        self.num_levels = 2 if self.data_mode == "binarized" else self.raw_levels
        self.shape = tuple(int(s) for s in info.shape)
        self.num_dims = int(np.prod(self.shape))
        self.head = m.get("head", "categorical")
        self.num_mixtures = int(m.get("num_mixtures", 0) or 0)
        self.num_classes = 0
        kwargs = dict(m.get("kwargs", {}))
        if m.get("conditional", False):
            if m.name != "gated_pixelcnn":
                raise ValueError("model.conditional is implemented for the gated_pixelcnn only")
            if not info.num_classes:
                raise ValueError(f"model.conditional=True needs a labelled dataset; {info.name!r} has none")
            self.num_classes = int(info.num_classes)
            kwargs["num_classes"] = self.num_classes
        self.model = models.make_model(m.name, num_levels=self.num_levels, data_channels=self.shape[-1],
                                       head=self.head, num_mixtures=self.num_mixtures, **kwargs)
        self.cached = bool(m.get("cached_sampling", True)) and m.name in models.CACHED_MODELS

    # -- pieces ------------------------------------------------------------------------------------------
    def prepare(self, x):
        """Raw stored levels -> the integer levels the model sees (binarized or not)."""
        if self.data_mode == "binarized":
            return pp.binarize_static(x, self.raw_levels).astype(jnp.int32)
        return jnp.asarray(x, jnp.int32)

    def nll(self, params, x, label, rng=None, train=False):
        """Exact -log p(x) in nats per example, x the prepared integer levels."""
        labels = label if self.num_classes else None
        rngs = {"dropout": rng} if (train and rng is not None) else None
        out = self.model.apply({"params": params}, models.scale_input(x, self.num_levels), labels, train,
                               rngs=rngs)
        return losses.head_nll(self.head, out, x, self.num_levels, self.num_mixtures)

    # -- engine hooks ------------------------------------------------------------------------------------
    def init_state(self, rng, batch):
        x = jnp.zeros((1,) + self.shape, jnp.float32)
        label = jnp.zeros((1,), jnp.int32) if self.num_classes else None
        params = models.init_params(self.model, rng, x, label)
        return self.create_state(params, rng)

    def train_step(self, state, batch, rng):
        x = self.prepare(batch["x"])

        def loss_fn(params):
            nll = self.nll(params, x, batch.get("label"), rng, train=True)
            return jnp.mean(nll), nll

        (loss, nll), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads)
        return state, dict(loss=loss, nll_bpd=bits_per_dim(loss, self.num_dims),
                           grad_norm=optax.global_norm(grads))

    def eval_step(self, state, batch, rng):
        x = self.prepare(batch["x"])
        nll = self.nll(state.eval_params(), x, batch.get("label"))
        return dict(nll_nats=nll, nll_bpd=bits_per_dim(nll, self.num_dims))

    def sample(self, state, rng, num, labels=None, cached=None):
        """The evaluator hook: `generate` with the EMA parameters, as images in [0, 1] (level / (K - 1))."""
        x = self.generate(state.eval_params(), rng, int(num), labels=labels, cached=cached)
        return x.astype(jnp.float32) / (self.num_levels - 1)

    def generate(self, params, rng, num: int, labels=None, x_init=None, start_row: int = 0, cached=None):
        """Integer images [num, H, W, C] (the fast sampler when the model has one, unless cached=False)."""
        return sampling.sample(self.model, params, rng, num, self.shape, self.num_levels, head=self.head,
                               num_mixtures=self.num_mixtures, labels=labels, x_init=x_init,
                               start_row=start_row, cached=self.cached if cached is None else cached)

    def visualize(self, state, rng):
        """'samples' (num_samples images; for the conditional model one row per class), 'completion' (rows of
        [top half given, 4 completions, original] for 8 test images, as in van den Oord et al. 2016a Fig. 1)."""
        params = state.eval_params()
        r_s, r_c = jax.random.split(rng)
        to01 = lambda x: x.astype(jnp.float32) / (self.num_levels - 1)  # noqa: E731
        out = {}
        if self.num_classes:
            per = 8
            labels = jnp.repeat(jnp.arange(self.num_classes), per)
            s = self.generate(params, r_s, labels.shape[0], labels=labels)
            out["class_samples"] = to01(s).reshape((self.num_classes, per) + self.shape)
        else:
            out["samples"] = to01(self.generate(params, r_s, int(self.config.num_samples)))
        b = self.example_batch(8)   # the first 8 images of config.eval_split
        x = self.prepare(b["x"])
        reps = 4
        start = self.shape[0] // 2
        xi = jnp.repeat(x, reps, axis=0)
        labels = jnp.repeat(jnp.asarray(b["label"], jnp.int32), reps) if self.num_classes else None
        comp = self.generate(params, r_c, xi.shape[0], labels=labels, x_init=xi, start_row=start)
        comp = comp.reshape((8, reps) + self.shape)
        given = x.at[:, start:].set(0)
        grid = jnp.concatenate([given[:, None], comp, x[:, None]], axis=1)
        out["completion"] = to01(grid)
        return out
